import { sql } from 'kysely'
import { columnTypes } from '../dialect.ts'
import type { Migration } from '../migrate.ts'

/** Events (with their group columns), groups and ingestion warnings. */
export const m004Capture: Migration = {
  name: '004-capture',
  async up(db, engine) {
    const t = columnTypes(engine)
    await db.schema
      .createTable('events')
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('uuid', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('distinct_id', 'text', (c) => c.notNull())
      .addColumn('properties', t.json, (c) => c.notNull())
      .addColumn('timestamp', t.timestamp, (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('group_0', 'text')
      .addColumn('group_1', 'text')
      .addColumn('group_2', 'text')
      .addColumn('group_3', 'text')
      .addColumn('group_4', 'text')
      // A retried batch does not store its events twice.
      .addPrimaryKeyConstraint('events_pkey', ['project_id', 'uuid'])
      .execute()
    // Usage metrics evaluate events by (project, group column, time): one partial index per column.
    for (let i = 0; i < 5; i++) {
      await db.schema
        .createIndex(`events_group_${i}_idx`)
        .on('events')
        .columns(['project_id', `group_${i}`, 'timestamp'])
        .where(sql.ref(`group_${i}`), 'is not', null)
        .execute()
    }
    await db.schema
      .createIndex('events_project_timestamp_idx')
      .on('events')
      .columns(['project_id', 'timestamp'])
      .execute()

    await db.schema
      .createTable('groups')
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('group_type_index', 'integer', (c) => c.notNull())
      .addColumn('group_key', 'text', (c) => c.notNull())
      .addColumn('group_properties', t.json, (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .addPrimaryKeyConstraint('groups_pkey', ['project_id', 'group_type_index', 'group_key'])
      .execute()
    await db.schema
      .createIndex('groups_newest_idx')
      .on('groups')
      .columns(['project_id', 'group_type_index', 'created_at', 'group_key'])
      .execute()

    await db.schema
      .createTable('ingestion_warnings')
      .addColumn('id', t.serial, (c) =>
        engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
      )
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('details', t.json, (c) => c.notNull())
      .addColumn('timestamp', t.timestamp, (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('ingestion_warnings_project_idx')
      .on('ingestion_warnings')
      .columns(['project_id', 'timestamp'])
      .execute()
  },
}
