import type { Migration } from '../migrate.ts'

/**
 * SQLite's change log for cache invalidation across processes (see db/changes.ts): one row per
 * topic holding the sequence number of its last change. PostgreSQL uses LISTEN/NOTIFY instead.
 */
export const m007ChangeLog: Migration = {
  name: '007-change-log',
  async up(db, engine) {
    if (engine !== 'sqlite') return
    await db.schema
      .createTable('groupd_changes')
      .addColumn('topic', 'text', (c) => c.primaryKey())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('groupd_changes_seq_idx').on('groupd_changes').column('seq').execute()
  },
}
