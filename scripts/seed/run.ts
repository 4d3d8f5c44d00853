import { createDb, ensureDatabase, migrateSchema } from '../../services/shared/src/db';
import { createRedis } from '../../services/shared/src/redis';
import { courseMigrations } from '../../services/course/src/migrations';
import { studentMigrations } from '../../services/student/src/migrations';
import { generateDemoData } from './demo-data';
import { isEmpty, loadDemoData } from './load';

/**
 * Migrates both schemas and loads the demo data, if `onlyIfEmpty` only into a
 * database without a term. Returns what was loaded, or undefined if skipped.
 */
export async function seed(opts: { databaseUrl: string; redisUrl: string; keyPrefix: string; students: number; onlyIfEmpty: boolean }) {
  await ensureDatabase(opts.databaseUrl);
  const { db } = createDb<any>(opts.databaseUrl, 2);
  try {
    await migrateSchema(db, 'course', courseMigrations);
    await migrateSchema(db, 'student', studentMigrations);
    if (opts.onlyIfEmpty && !(await isEmpty(db))) return undefined;
    const data = generateDemoData(new Date(), { students: opts.students });
    await loadDemoData(db, data);
    // The catalog cache must not serve what was there before.
    const redis = createRedis(opts.redisUrl, opts.keyPrefix);
    await redis.incr('catalog:gen');
    redis.disconnect();
    return data;
  } finally {
    await db.destroy();
  }
}
