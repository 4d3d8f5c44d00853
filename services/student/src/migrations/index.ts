import type { Migration } from 'kysely';
import * as m0001 from './2026_11_24_0001_create_students';

/** Migrations of the student schema, in order. */
export const studentMigrations: Record<string, Migration> = {
  '2026_11_24_0001_create_students': m0001,
};
