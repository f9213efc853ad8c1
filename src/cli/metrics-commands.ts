/** Usage metric values from the command line: the same evaluation as the query endpoint. */
import { MAX_GROUP_TYPES_PER_PROJECT } from '../group-types/service.ts'
import { runUsageMetrics } from '../query/run.ts'
import type { UsageMetric } from '../query/usage-metrics.ts'
import { parse, projectId, required } from './args.ts'
import { UsageError } from './output.ts'
import { type Command, requireProject } from './tenancy-commands.ts'

export const metricsValues: Command = async (argv, database, out, events) => {
  const { values } = parse(argv, ['project', 'group-type-index', 'group-key'])
  const project = await requireProject(
    database,
    projectId(required(values.project, '--project'), '--project'),
  )
  const rawIndex = required(values['group-type-index'], '--group-type-index')
  if (!/^\d$/.test(rawIndex) || Number(rawIndex) >= MAX_GROUP_TYPES_PER_PROJECT) {
    throw new UsageError(
      `--group-type-index must be 0 to ${MAX_GROUP_TYPES_PER_PROJECT - 1}, got "${rawIndex}"`,
    )
  }
  const groupKey = values['group-key']
  if (groupKey === undefined || groupKey === '') throw new UsageError('--group-key is required')
  const target = { projectId: project.id, groupTypeIndex: Number(rawIndex), groupKey }
  const { results } = await runUsageMetrics(database, await events(), project, target, Date.now())
  out.result({ results }, table(results))
}

const number = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2))

function table(results: UsageMetric[]): string {
  if (results.length === 0) return 'no usage metrics to evaluate (define some with the metrics API)'
  const rows = [
    ['name', 'value', 'previous', 'change'],
    ...results.map((r) => [
      r.name,
      number(r.value),
      number(r.previous),
      r.change_from_previous_pct === null
        ? '–'
        : `${r.change_from_previous_pct >= 0 ? '+' : ''}${r.change_from_previous_pct.toFixed(1)}%`,
    ]),
  ]
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => [...(row[c] as string)].length))) ?? []
  return rows
    .map((row) =>
      row
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number)))
        .join('  '),
    )
    .join('\n')
}
