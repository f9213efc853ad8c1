import type { Migration } from '../migrate.ts'
import { m001Tenancy } from './001-tenancy.ts'

/** In order of application; never reorder or edit an applied migration, add a new one. */
export const migrations: Migration[] = [m001Tenancy]
