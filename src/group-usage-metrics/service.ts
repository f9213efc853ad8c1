/**
 * Metric rules: defaults, PostHog's cross-field validation on the merged view (stored values plus
 * submitted ones), bounds, and name uniqueness reported as a 400 instead of PostHog's 500.
 */
import { type Database, type Executor, fromJson, toJson } from '../db/database.ts'
import { forUpdate } from '../db/dialect.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { uuidv7 } from '../db/ids.ts'
import { isPlainObject } from '../db/text.ts'
import { type CheckTarget, validateMetricFilters } from '../filters/validate.ts'
import { ApiError, notFound, validationError } from '../http/errors.ts'
import { nestingDepth } from '../http/validation.ts'
import { pyRepr } from '../http/wire.ts'
import type { MetricInput } from './schema.ts'
import {
  countMetrics,
  getMetric,
  insertMetric,
  type Metric,
  type MetricValues,
  type Scope,
  updateMetric,
} from './store.ts'

/** Bounds PostHog lacks. */
export const MAX_METRICS_PER_GROUP_TYPE = 200
export const MAX_FILTERS_BYTES = 64 * 1024
export const MAX_FILTERS_DEPTH = 32

/**
 * The filters as they will be stored (NUL and unpaired surrogates become U+FFFD, so the response
 * matches later reads), within the depth and size bounds.
 */
function storedFilters(filters: Record<string, unknown>): Record<string, unknown> {
  // Depth first: JSON.stringify recurses, and a few thousand levels would overflow the stack (500).
  if (nestingDepth(filters, MAX_FILTERS_DEPTH) > MAX_FILTERS_DEPTH) {
    throw validationError(
      'max_depth',
      `Ensure filters nests no deeper than ${MAX_FILTERS_DEPTH} levels.`,
      'filters',
    )
  }
  const json = toJson(filters)
  if (Buffer.byteLength(json) > MAX_FILTERS_BYTES) {
    throw validationError(
      'max_length',
      `Ensure filters is no larger than ${MAX_FILTERS_BYTES} bytes of JSON.`,
      'filters',
    )
  }
  return fromJson<Record<string, unknown>>(json)
}

/** PostHog's GroupUsageMetricSerializer.validate, in its order. */
function checkCrossField(m: MetricValues): void {
  const source = isPlainObject(m.filters) ? m.filters.source : undefined
  const invalid = (attr: string, detail: string) => validationError('invalid_input', detail, attr)
  if (source === 'data_warehouse') {
    const { table_name, timestamp_field, key_field } = m.filters
    if (!table_name || !timestamp_field || !key_field) {
      throw invalid('filters', 'Data warehouse metrics require table_name, timestamp_field, key_field.')
    }
    if (m.math === 'sum' && !m.math_property) {
      throw invalid('math_property', "math_property (column to sum) is required when math is 'sum'.")
    }
    if (m.math === 'count' && m.math_property)
      throw invalid('math_property', "math_property must be empty when math is 'count'.")
    // groupd has no data warehouse, so no table exists.
    throw invalid('filters', `Data warehouse table ${pyRepr(table_name)} does not exist.`)
  }
  if (source === undefined || source === null || source === 'events') {
    if (m.math === 'sum' && !m.math_property)
      throw invalid('math_property', "math_property is required when math is 'sum'.")
    if (m.math === 'count' && m.math_property)
      throw invalid('math_property', "math_property must be empty when math is 'count'.")
    return
  }
  throw invalid('filters', `Unknown source: ${pyRepr(source)}`)
}

/** The values to store, checked: bounds, PostHog's cross-field rules, then the filter language. */
async function validated(target: CheckTarget, values: MetricValues): Promise<MetricValues> {
  const stored = { ...values, filters: storedFilters(values.filters) }
  checkCrossField(stored)
  await validateMetricFilters(target, stored.filters)
  return stored
}

const duplicateName = () =>
  validationError('unique', 'A metric with this name already exists for this group type.', 'name')

async function translatingUnique<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateName()
    throw error
  }
}

/**
 * Create. The body validator has already applied the schema's defaults (format, interval, display,
 * math). Serialized per project so the count bound holds under concurrent creates.
 */
export async function createMetric(database: Database, scope: Scope, input: MetricInput): Promise<Metric> {
  const values = await validated(database, { math_property: null, ...input } as MetricValues)
  return translatingUnique(() =>
    database.transaction(async (tx) => {
      await forUpdate(
        database.engine,
        tx.selectFrom('projects').select('id').where('id', '=', scope.projectId),
      ).execute()
      if ((await countMetrics(tx, scope)) >= MAX_METRICS_PER_GROUP_TYPE) {
        throw new ApiError(
          'max_count',
          `A group type can have at most ${MAX_METRICS_PER_GROUP_TYPE} metrics.`,
        )
      }
      return insertMetric(tx, scope, uuidv7(), values)
    }),
  )
}

async function lockMetric(database: Database, tx: Executor, scope: Scope, id: string): Promise<Metric> {
  const row = await forUpdate(
    database.engine,
    tx
      .selectFrom('group_usage_metrics')
      .select('id')
      .where('project_id', '=', scope.projectId)
      .where('group_type_index', '=', scope.groupTypeIndex)
      .where('id', '=', id),
  ).executeTakeFirst()
  const metric = row && (await getMetric(tx, scope, id))
  if (!metric) throw notFound()
  return metric
}

/**
 * PUT and PATCH: the submitted fields over the stored ones. For PUT the body validator has already
 * filled omitted format/interval/display/math with their defaults (DRF's full update), while
 * math_property, which has no default, keeps its stored value; PATCH brings only what was sent.
 * Read-merge-write happens under the row's lock, so concurrent updates apply one after another.
 */
export async function changeMetric(
  database: Database,
  scope: Scope,
  id: string,
  input: MetricInput,
): Promise<Metric> {
  return translatingUnique(() =>
    database.transaction(async (tx) => {
      const stored = await lockMetric(database, tx, scope, id)
      const { id: _id, group_type_index: _index, ...current } = stored
      const values = await validated({ engine: database.engine, db: tx }, {
        ...current,
        ...input,
      } as MetricValues)
      await updateMetric(tx, scope, id, values)
      return { ...stored, ...values }
    }),
  )
}
