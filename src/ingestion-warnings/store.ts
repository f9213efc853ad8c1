/** Ingestion warnings: what capture dropped or changed, and why. */
import { type Executor, fromJson, toJson } from '../db/database.ts'

export interface IngestionWarning {
  type: string
  details: Record<string, unknown>
  timestamp: string
}

const CHUNK = 500

export async function insertWarnings(
  db: Executor,
  projectId: number,
  warnings: { type: string; details: Record<string, unknown> }[],
  timestamp: string,
): Promise<void> {
  for (let i = 0; i < warnings.length; i += CHUNK) {
    const rows = warnings.slice(i, i + CHUNK).map((w) => ({
      project_id: projectId,
      type: w.type,
      details: toJson(w.details),
      timestamp,
    }))
    await db.insertInto('ingestion_warnings').values(rows).execute()
  }
}

export interface WarningSummary {
  type: string
  count: number
  lastSeen: string
  warnings: IngestionWarning[]
}

/** Per type, newest first: how many there were since `since`, and the latest `perType` of them. */
export async function summarizeWarnings(
  db: Executor,
  projectId: number,
  since: string,
  perType: number,
): Promise<WarningSummary[]> {
  const counts = await db
    .selectFrom('ingestion_warnings')
    .select((eb) => ['type', eb.fn.countAll<number>().as('count'), eb.fn.max('timestamp').as('last_seen')])
    .where('project_id', '=', projectId)
    .where('timestamp', '>=', since)
    .groupBy('type')
    .orderBy('last_seen', 'desc')
    .execute()
  const summaries: WarningSummary[] = []
  for (const row of counts) {
    const latest = await db
      .selectFrom('ingestion_warnings')
      .select(['type', 'details', 'timestamp'])
      .where('project_id', '=', projectId)
      .where('type', '=', row.type)
      .where('timestamp', '>=', since)
      .orderBy('timestamp', 'desc')
      .orderBy('id', 'desc')
      .limit(perType)
      .execute()
    summaries.push({
      type: row.type,
      count: Number(row.count),
      lastSeen: String(row.last_seen),
      warnings: latest.map((w) => ({ ...w, details: fromJson<Record<string, unknown>>(w.details) })),
    })
  }
  return summaries
}
