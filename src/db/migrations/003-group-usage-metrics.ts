import { columnTypes } from '../dialect.ts'
import type { Migration } from '../migrate.ts'

export const m003GroupUsageMetrics: Migration = {
  name: '003-group-usage-metrics',
  async up(db, engine) {
    const t = columnTypes(engine)
    await db.schema
      .createTable('group_usage_metrics')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      // No foreign key to the group type: metrics outlive a deleted mapping (PostHog §11).
      .addColumn('group_type_index', 'integer', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('format', 'text', (c) => c.notNull())
      .addColumn('interval', 'integer', (c) => c.notNull())
      .addColumn('display', 'text', (c) => c.notNull())
      .addColumn('filters', t.json, (c) => c.notNull())
      .addColumn('math', 'text', (c) => c.notNull())
      .addColumn('math_property', 'text')
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('updated_at', t.timestamp, (c) => c.notNull())
      .addUniqueConstraint('unique_metric_name', ['project_id', 'group_type_index', 'name'])
      .execute()
    await db.schema
      .createIndex('group_usage_metrics_list_idx')
      .on('group_usage_metrics')
      .columns(['project_id', 'group_type_index', 'id'])
      .execute()
  },
}
