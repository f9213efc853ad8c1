import { columnTypes } from '../dialect.ts'
import type { Migration } from '../migrate.ts'

export const m001Tenancy: Migration = {
  name: '001-tenancy',
  async up(db, engine) {
    const t = columnTypes(engine)
    const serialPk = engine === 'sqlite'
    await db.schema
      .createTable('organizations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('users')
      .addColumn('id', t.serial, (c) => (serialPk ? c.primaryKey().autoIncrement() : c.primaryKey()))
      .addColumn('email', 'text', (c) => c.notNull().unique())
      .addColumn('is_active', 'smallint', (c) => c.notNull().defaultTo(1))
      .addColumn('current_project_id', 'integer')
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('memberships')
      .addColumn('organization_id', 'text', (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('level', 'text', (c) => c.notNull())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addPrimaryKeyConstraint('memberships_pkey', ['organization_id', 'user_id'])
      .execute()
    await db.schema.createIndex('memberships_user_idx').on('memberships').column('user_id').execute()
    await db.schema
      .createTable('projects')
      .addColumn('id', t.serial, (c) => (serialPk ? c.primaryKey().autoIncrement() : c.primaryKey()))
      .addColumn('uuid', 'text', (c) => c.notNull().unique())
      .addColumn('organization_id', 'text', (c) =>
        c.notNull().references('organizations.id').onDelete('cascade'),
      )
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('api_token', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('projects_organization_idx')
      .on('projects')
      .column('organization_id')
      .execute()
    await db.schema
      .createTable('personal_api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('secure_value', 'text', (c) => c.notNull().unique())
      .addColumn('mask_value', 'text', (c) => c.notNull())
      .addColumn('scopes', t.json, (c) => c.notNull())
      .addColumn('scoped_teams', t.json)
      .addColumn('scoped_organizations', t.json)
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('last_used_at', t.timestamp)
      .execute()
    await db.schema
      .createIndex('personal_api_keys_user_idx')
      .on('personal_api_keys')
      .column('user_id')
      .execute()
  },
}
