import { randomUUID } from 'node:crypto'
import { columnTypes } from '../dialect.ts'
import type { Migration } from '../migrate.ts'

/** User uuids, passwords, browser sessions and failed sign-ins (for the per-email lockout). */
export const m008Sessions: Migration = {
  name: '008-sessions',
  async up(db, engine) {
    const t = columnTypes(engine)
    await db.schema.alterTable('users').addColumn('password_hash', 'text').execute()
    // PostHog's users have a uuid (GET /api/users/@me/); existing users get one here.
    await db.schema.alterTable('users').addColumn('uuid', 'text').execute()
    for (const { id } of await db.selectFrom('users').select('id').execute()) {
      await db.updateTable('users').set({ uuid: randomUUID() }).where('id', '=', id).execute()
    }
    await db.schema.createIndex('users_uuid_idx').unique().on('users').column('uuid').execute()
    await db.schema
      .createTable('sessions')
      .addColumn('id_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', t.timestamp, (c) => c.notNull())
      .addColumn('expires_at', t.timestamp, (c) => c.notNull())
      .execute()
    await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute()
    await db.schema
      .createTable('login_failures')
      .addColumn('id', t.serial, (c) =>
        engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
      )
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('failed_at', t.timestamp, (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('login_failures_email_idx')
      .on('login_failures')
      .columns(['email', 'failed_at'])
      .execute()
  },
}
