import type { Kysely } from 'kysely';
import type { Logger } from '../../shared/src/logger';
import type { Catalog } from './catalog/catalog.client';
import type { StudentDatabase } from './db';

/** What the student service's handlers need, built once in main.ts (or a test). */
export interface StudentDeps {
  db: Kysely<StudentDatabase>;
  catalog: Catalog;
  log: Logger;
}
