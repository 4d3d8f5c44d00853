import type { Migration } from 'kysely';
import * as m0001 from './2026_11_24_0001_create_registrations';

/** Migrations of the registration schema, in order. */
export const registrationMigrations: Record<string, Migration> = {
  '2026_11_24_0001_create_registrations': m0001,
};
