import { sql } from 'kysely'
import { columnTypes } from '../dialect.ts'
import type { Migration } from '../migrate.ts'

export const m002GroupTypes: Migration = {
  name: '002-group-types',
  async up(db, engine) {
    const t = columnTypes(engine)
    await db.schema
      .createTable('group_type_mappings')
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('group_type', 'text', (c) => c.notNull())
      .addColumn('group_type_index', 'integer', (c) => c.notNull())
      .addColumn('name_singular', 'text')
      .addColumn('name_plural', 'text')
      .addColumn('detail_dashboard', 'integer')
      .addColumn('default_columns', t.json)
      .addColumn('created_at', t.timestamp)
      // PostHog's two unique constraints; registration relies on both (insert-or-do-nothing).
      .addPrimaryKeyConstraint('group_type_mappings_pkey', ['project_id', 'group_type_index'])
      .addUniqueConstraint('unique_group_types_for_project', ['project_id', 'group_type'])
      .addCheckConstraint('group_type_index_range', sql`group_type_index >= 0 and group_type_index < 5`)
      .execute()
  },
}
