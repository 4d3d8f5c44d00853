import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { sql, type Kysely } from 'kysely';
import { courseMigrations } from '../../services/course/src/migrations';
import { registrationMigrations } from '../../services/registration/src/migrations';
import { ensureDevKeys } from '../../services/shared/src/devkeys';
import { createDb, dropDatabase, ensureDatabase, migrateSchema } from '../../services/shared/src/db';
import { studentMigrations } from '../../services/student/src/migrations';
import { loadDemoData } from '../../scripts/seed/load';
import { benchConfig, RESULTS_DIR } from './config';
import type { Scenario } from './scenario';

/**
 * The benchmark's own world: database `coursereg_bench`, RabbitMQ vhost
 * `coursereg-bench`, Redis prefix `coursereg-bench:` and signing keys under
 * bench/results/.keys. Nothing here touches the development database or keys.
 */
export interface World {
  db: Kysely<any>;
  databaseUrl: string;
  jwksFile: string;
  privateKeyFile: string;
  close(): Promise<void>;
}

export async function createWorld(scenario: Scenario): Promise<World> {
  const jwksFile = join(RESULTS_DIR, '.keys', 'jwks.json');
  const privateKeyFile = join(RESULTS_DIR, '.keys', 'private.jwk.json');
  await ensureDevKeys(jwksFile, privateKeyFile);

  await dropDatabase(benchConfig.databaseUrl);
  await ensureDatabase(benchConfig.databaseUrl);
  const { db } = createDb<any>(benchConfig.databaseUrl, 4);
  await migrateSchema(db, 'course', courseMigrations);
  await migrateSchema(db, 'student', studentMigrations);
  await migrateSchema(db, 'registration', registrationMigrations);
  await loadDemoData(db, scenario.data);
  await sql`VACUUM ANALYZE`.execute(db);
  await flushRedis();
  return { db, databaseUrl: benchConfig.databaseUrl, jwksFile, privateKeyFile, close: () => db.destroy() };
}

/**
 * Puts the registration state back to "nothing registered": every table of the
 * registration schema emptied (except the migration bookkeeping), its sequences
 * restarted, every section's counts zeroed, the Redis prefix emptied. The
 * catalog and students stay exactly as loaded, so each system sees the same data.
 */
export async function resetRegistrations(db: Kysely<any>): Promise<void> {
  const tables = await sql<{ name: string }>`
    SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
     WHERE schemaname = 'registration' AND tablename NOT LIKE 'kysely_migration%'`.execute(db);
  if (tables.rows.length > 0) await sql.raw(`TRUNCATE ${tables.rows.map((t) => t.name).join(', ')} RESTART IDENTITY`).execute(db);
  const sequences = await sql<{ name: string }>`
    SELECT format('%I.%I', sequence_schema, sequence_name) AS name FROM information_schema.sequences WHERE sequence_schema = 'registration'`.execute(db);
  for (const s of sequences.rows) await sql.raw(`ALTER SEQUENCE ${s.name} RESTART`).execute(db);
  await sql`UPDATE course.sections SET enrolled_count = 0, waitlisted_count = 0 WHERE enrolled_count <> 0 OR waitlisted_count <> 0`.execute(db);
  await sql`VACUUM ANALYZE course.sections`.execute(db);
  await sql`ANALYZE`.execute(db);
  await flushRedis();
}

/** Deletes every key under the benchmark's Redis prefix. */
export async function flushRedis(): Promise<void> {
  const redis = new Redis(benchConfig.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${benchConfig.redisKeyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** A fresh RabbitMQ vhost (deleted first if a previous run left it) and its AMQP URL. */
export function freshVhost(): string {
  const vhost = benchConfig.vhost;
  try {
    execFileSync('rabbitmqctl', ['-q', 'delete_vhost', vhost], { stdio: 'ignore' });
  } catch {
    // It did not exist.
  }
  execFileSync('rabbitmqctl', ['-q', 'add_vhost', vhost], { stdio: 'ignore' });
  execFileSync('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'], { stdio: 'ignore' });
  return `${benchConfig.amqpBase}/${encodeURIComponent(vhost)}`;
}

export function deleteVhost(): void {
  try {
    execFileSync('rabbitmqctl', ['-q', 'delete_vhost', benchConfig.vhost], { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}
