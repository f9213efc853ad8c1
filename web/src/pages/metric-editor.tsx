/** The usage metric editor (PostHog's §3.2 modal): fields, client validation, server 400s by field. */
import { useQuery } from '@tanstack/react-query'
import { type FormEvent, useId, useState } from 'react'
import { ApiError, errorText, get } from '../api/client.ts'
import { useMetricMutations } from '../api/queries.ts'
import type { Event, Metric, MetricFilters, Page, PropertyFilter } from '../api/types.ts'
import { Dialog } from '../components/dialog.tsx'

const OPERATORS: [string, string][] = [
  ['exact', '= equals'],
  ['is_not', '≠ does not equal'],
  ['icontains', '∋ contains'],
  ['not_icontains', '∌ does not contain'],
  ['regex', '~ matches regex'],
  ['not_regex', '≁ does not match regex'],
  ['gt', '> greater than'],
  ['gte', '≥ at least'],
  ['lt', '< less than'],
  ['lte', '≤ at most'],
  ['is_set', '✓ is set'],
  ['is_not_set', '✕ is not set'],
]
const NUMERIC = new Set(['gt', 'gte', 'lt', 'lte'])
const VALUELESS = new Set(['is_set', 'is_not_set'])
const STANDARD_INTERVALS = [7, 30, 90]

/** Event names and property keys seen in the latest events (the pickers' suggestions). */
function useSeen(projectId: number) {
  return useQuery({
    queryKey: ['seen', projectId],
    queryFn: async () => {
      const page = await get<Page<Event>>(`/api/projects/${projectId}/events/?limit=1000`)
      const names = new Set<string>(['$pageview'])
      const properties = new Set<string>()
      const numeric = new Set<string>()
      for (const e of page.results) {
        names.add(e.event)
        for (const [k, v] of Object.entries(e.properties)) {
          properties.add(k)
          if (typeof v === 'number') numeric.add(k)
        }
      }
      return { names: [...names].sort(), properties: [...properties].sort(), numeric: [...numeric].sort() }
    },
    staleTime: 60_000,
  })
}

function FilterRows({
  filters,
  onChange,
  listId,
  label,
  addLabel,
}: {
  filters: PropertyFilter[]
  onChange: (filters: PropertyFilter[]) => void
  listId: string
  label: string
  /** Said after "Add filter" to screen readers when the button alone would be ambiguous. */
  addLabel?: string
}) {
  const set = (i: number, patch: Partial<PropertyFilter>) =>
    onChange(filters.map((f, j) => (i === j ? { ...f, ...patch } : f)))
  return (
    <div className="filters">
      {filters.map((f, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place, by position
        <div className="filter-row" key={i}>
          <input
            aria-label={`${label} ${i + 1}: property`}
            placeholder="property"
            list={listId}
            value={f.key}
            onChange={(e) => set(i, { key: e.target.value })}
          />
          <select
            aria-label={`${label} ${i + 1}: operator`}
            value={f.operator ?? 'exact'}
            onChange={(e) => set(i, { operator: e.target.value })}
          >
            {OPERATORS.map(([op, text]) => (
              <option key={op} value={op}>
                {text}
              </option>
            ))}
          </select>
          {!VALUELESS.has(f.operator ?? 'exact') && (
            <input
              aria-label={`${label} ${i + 1}: value`}
              placeholder="value"
              value={f.value === undefined || f.value === null ? '' : String(f.value)}
              onChange={(e) => set(i, { value: e.target.value })}
            />
          )}
          <button
            type="button"
            className="btn btn-small"
            aria-label={`Remove ${label.toLowerCase()} ${i + 1}`}
            onClick={() => onChange(filters.filter((_, j) => j !== i))}
          >
            ✕
          </button>
        </div>
      ))}
      <button
        type="button"
        className="btn btn-small"
        onClick={() => onChange([...filters, { key: '', value: '', operator: 'exact', type: 'event' }])}
      >
        + Add filter{addLabel && <span className="sr-only"> {addLabel}</span>}
      </button>
    </div>
  )
}

/** The filters as saved: numeric operators get numbers, valueless ones no value, empty keys dropped. */
function cleanFilters(filters: PropertyFilter[] | undefined): PropertyFilter[] {
  return (filters ?? [])
    .filter((f) => f.key.trim())
    .map((f) => {
      const operator = f.operator ?? 'exact'
      const base = { key: f.key.trim(), operator, type: f.type ?? 'event' }
      if (VALUELESS.has(operator)) return base
      const text = String(f.value ?? '')
      return {
        ...base,
        value: NUMERIC.has(operator) && text !== '' && !Number.isNaN(Number(text)) ? Number(text) : text,
      }
    })
}

export const NEW_METRIC: Omit<Metric, 'id'> = {
  name: '',
  format: 'numeric',
  interval: 7,
  display: 'number',
  filters: {},
  math: 'count',
  math_property: null,
}

export function MetricEditor({
  projectId,
  index,
  initial,
  onClose,
}: {
  projectId: number
  index: number
  initial: Omit<Metric, 'id'> & { id?: string }
  onClose: () => void
}) {
  const { save } = useMetricMutations(projectId, index)
  const seen = useSeen(projectId)
  const ids = { events: useId(), props: useId(), numeric: useId() }
  const [metric, setMetric] = useState(initial)
  const [custom, setCustom] = useState(!STANDARD_INTERVALS.includes(initial.interval))
  const [errors, setErrors] = useState<Record<string, string>>({})
  // An edited field's message goes away with the edit.
  const change = (patch: Partial<typeof metric>) => {
    setMetric((m) => ({ ...m, ...patch }))
    setErrors(({ form: _, ...rest }) => {
      for (const key of Object.keys(patch)) delete rest[key]
      return rest
    })
  }
  const filters: MetricFilters = metric.filters
  const events = filters.events ?? []
  const setFilters = (patch: Partial<MetricFilters>) =>
    change({
      filters: {
        ...metric.filters,
        events: metric.filters.events ?? [],
        actions: [],
        properties: metric.filters.properties ?? [],
        ...patch,
      },
    })
  const submit = (event: FormEvent) => {
    event.preventDefault()
    const found: Record<string, string> = {}
    if (!metric.name.trim()) found.name = 'Name is required'
    if (metric.math === 'sum' && !metric.math_property?.trim())
      found.math_property = 'Property is required for sum'
    setErrors(found)
    if (Object.keys(found).length) return
    const body = {
      ...metric,
      name: metric.name.trim(),
      filters: {
        ...filters,
        events: events.map((e, order) => ({
          ...e,
          name: e.id,
          order,
          properties: cleanFilters(e.properties),
        })),
        actions: [],
        properties: cleanFilters(filters.properties),
      },
    }
    save.mutate(body, {
      onSuccess: onClose,
      onError: (error) => {
        const attr = error instanceof ApiError ? (error.attr ?? '').split('__')[0] || 'form' : 'form'
        setErrors({
          [['name', 'interval', 'math_property', 'filters', 'format', 'display', 'math'].includes(attr)
            ? attr
            : 'form']: errorText(error),
        })
      },
    })
  }

  const fieldError = (name: string) =>
    errors[name] ? (
      <span className="field-error" id={`${ids.events}-${name}-error`} role="alert">
        {errors[name]}
      </span>
    ) : null
  const described = (name: string) => (errors[name] ? `${ids.events}-${name}-error` : undefined)

  return (
    <Dialog
      open
      title={initial.id ? 'Edit usage metric' : 'Add usage metric'}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="metric-form" className="btn btn-primary" disabled={save.isPending}>
            Save
          </button>
        </>
      }
    >
      <form id="metric-form" className="form-grid" onSubmit={submit} noValidate>
        <datalist id={ids.events}>
          {seen.data?.names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <datalist id={ids.props}>
          {seen.data?.properties.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <datalist id={ids.numeric}>
          {seen.data?.numeric.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <label className="field span-2">
          <span>Name</span>
          <input
            placeholder="Events"
            value={metric.name}
            aria-invalid={!!errors.name}
            aria-describedby={described('name')}
            onChange={(e) => change({ name: e.target.value })}
          />
          {fieldError('name')}
        </label>
        <label className="field">
          <span>Interval</span>
          <select
            value={custom ? 'custom' : String(metric.interval)}
            onChange={(e) => {
              const custom = e.target.value === 'custom'
              setCustom(custom)
              if (!custom) change({ interval: Number(e.target.value) })
            }}
          >
            {STANDARD_INTERVALS.map((d) => (
              <option key={d} value={d}>
                {d}d
              </option>
            ))}
            <option value="custom">Custom</option>
          </select>
        </label>
        {custom && (
          <label className="field">
            <span>Days</span>
            <input
              type="number"
              min={1}
              value={metric.interval}
              aria-invalid={!!errors.interval}
              aria-describedby={described('interval')}
              onChange={(e) => change({ interval: Number(e.target.value) })}
            />
            {fieldError('interval')}
          </label>
        )}
        {!custom && fieldError('interval')}
        <label className="field">
          <span>Format</span>
          <select
            value={metric.format}
            onChange={(e) => change({ format: e.target.value as Metric['format'] })}
          >
            <option value="numeric">Numeric</option>
            <option value="currency">Currency</option>
          </select>
        </label>
        <label className="field">
          <span>Display</span>
          <select
            value={metric.display}
            onChange={(e) => change({ display: e.target.value as Metric['display'] })}
          >
            <option value="number">Number</option>
            <option value="sparkline">Sparkline</option>
          </select>
        </label>
        <label className="field">
          <span>Calculation</span>
          <select
            value={metric.math}
            onChange={(e) => {
              const math = e.target.value as Metric['math']
              change({ math, math_property: math === 'count' ? null : metric.math_property })
            }}
          >
            <option value="count">Count of events</option>
            <option value="sum">Sum of property</option>
          </select>
        </label>
        {metric.math === 'sum' && (
          <label className="field">
            <span>Property to sum</span>
            <input
              list={ids.numeric}
              value={metric.math_property ?? ''}
              aria-invalid={!!errors.math_property}
              aria-describedby={described('math_property')}
              onChange={(e) => change({ math_property: e.target.value })}
            />
            {fieldError('math_property')}
          </label>
        )}
        <fieldset className="span-2">
          <legend>Match events</legend>
          <p className="muted small">
            Pick events to match. A metric counts (or sums over) the events that match any entry and all
            filters.
          </p>
          {events.map((entry, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: entries are edited in place, by position
            <div className="event-entry" key={i}>
              <div className="filter-row">
                <input
                  aria-label={`Event ${i + 1}`}
                  list={ids.events}
                  value={entry.id}
                  onChange={(e) =>
                    setFilters({ events: events.map((x, j) => (j === i ? { ...x, id: e.target.value } : x)) })
                  }
                />
                <button
                  type="button"
                  className="btn btn-small"
                  aria-label={`Remove event ${i + 1}`}
                  onClick={() => setFilters({ events: events.filter((_, j) => j !== i) })}
                >
                  ✕
                </button>
              </div>
              <FilterRows
                label={`Event ${i + 1} filter`}
                addLabel={`to event ${i + 1}`}
                listId={ids.props}
                filters={entry.properties ?? []}
                onChange={(properties) =>
                  setFilters({ events: events.map((x, j) => (j === i ? { ...x, properties } : x)) })
                }
              />
            </div>
          ))}
          <button
            type="button"
            className="btn btn-small"
            onClick={() =>
              setFilters({ events: [...events, { id: '$pageview', type: 'events', properties: [] }] })
            }
          >
            + Add event
          </button>
        </fieldset>
        <fieldset className="span-2">
          <legend>Filters</legend>
          <FilterRows
            label="Filter"
            listId={ids.props}
            filters={filters.properties ?? []}
            onChange={(properties) => setFilters({ properties })}
          />
          {fieldError('filters')}
        </fieldset>
        <label className="switch span-2">
          <input
            type="checkbox"
            role="switch"
            aria-checked={filters.filter_test_accounts ?? false}
            checked={filters.filter_test_accounts ?? false}
            onChange={(e) => setFilters({ filter_test_accounts: e.target.checked })}
          />
          <span>Filter out internal and test users</span>
        </label>
        {errors.form && (
          <p className="error span-2" role="alert">
            {errors.form}
          </p>
        )}
      </form>
    </Dialog>
  )
}
