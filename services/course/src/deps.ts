import type { Kysely } from 'kysely';
import type { GenerationCache } from '../../shared/src/cache';
import type { Logger } from '../../shared/src/logger';
import type { CourseDatabase } from './db';

/** What the course service's handlers need, built once in main.ts (or a test). */
export interface CatalogDeps {
  db: Kysely<CourseDatabase>;
  cache: GenerationCache;
  log: Logger;
}
