import type { Migration } from 'kysely';
import * as m0001 from './2026_11_24_0001_create_catalog';

/** Migrations of the course schema, in order. */
export const courseMigrations: Record<string, Migration> = {
  '2026_11_24_0001_create_catalog': m0001,
};
