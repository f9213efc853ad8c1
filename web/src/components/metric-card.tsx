/** A usage metric card (PostHog's UsageMetricCard): value, % change badge, bar sparkline, window. */
import type { MetricResult } from '../api/types.ts'
import { formatValue } from '../format.ts'

const pct = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 })

function tooltip(m: MetricResult): string {
  const value = formatValue(m.value, m.format)
  if (m.change_from_previous_pct === null || m.previous === null) return `${m.name}: ${value}`
  const change = m.change_from_previous_pct
  if (change === 0) return `${m.name}: unchanged at ${value}`
  const verb = change > 0 ? 'increased' : 'decreased'
  return `${m.name}: ${verb} by ${pct.format(Math.abs(change))}%, to ${value} from ${formatValue(m.previous, m.format)}`
}

export function Sparkline({
  values,
  labels,
  label,
}: {
  values: number[]
  labels: string[] | null
  label: string
}) {
  const width = 200
  const height = 40
  const max = Math.max(...values, 0)
  const min = Math.min(...values, 0)
  const span = max - min || 1
  const slot = width / Math.max(values.length, 1)
  const gap = Math.min(2, slot / 4)
  return (
    <svg
      className="sparkline"
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
    >
      {values.map((v, i) => {
        const top = height - ((Math.max(v, 0) - min) / span) * height
        const bottom = height - ((Math.min(v, 0) - min) / span) * height
        return (
          <rect
            key={labels?.[i] ?? `day-${i}`}
            x={i * slot + gap / 2}
            y={top}
            width={slot - gap}
            height={Math.max(bottom - top, v === 0 ? 0 : 1)}
          >
            <title>{`${labels?.[i] ?? `Day ${i + 1}`}: ${v}`}</title>
          </rect>
        )
      })}
    </svg>
  )
}

export function TrendBadge({ change }: { change: number | null }) {
  if (change === null) return null
  const direction = change > 0 ? 'up' : change < 0 ? 'down' : 'flat'
  const symbol = direction === 'up' ? '▲' : direction === 'down' ? '▼' : '■'
  const text = direction === 'flat' ? 'unchanged' : `${pct.format(Math.abs(change))}%`
  return (
    <span className={`badge badge-${direction}`} title={direction === 'flat' ? 'unchanged' : undefined}>
      <span aria-hidden="true">{symbol}</span>{' '}
      <span className="sr-only">{direction === 'up' ? 'up' : direction === 'down' ? 'down' : ''}</span>
      {text}
    </span>
  )
}

export function MetricCard({ metric }: { metric: MetricResult }) {
  return (
    <article
      className="card metric-card"
      title={tooltip(metric)}
      aria-label={tooltip(metric)}
      data-metric-id={metric.id}
    >
      <h3 className="metric-name">{metric.name}</h3>
      <div className="metric-value-row">
        <span className="metric-value">{formatValue(metric.value, metric.format)}</span>
        <TrendBadge change={metric.change_from_previous_pct} />
      </div>
      {metric.display === 'sparkline' && metric.timeseries && (
        <Sparkline
          values={metric.timeseries}
          labels={metric.timeseries_labels}
          label={`${metric.name}, daily values`}
        />
      )}
      <p className="muted small">Last {metric.interval} days</p>
    </article>
  )
}
