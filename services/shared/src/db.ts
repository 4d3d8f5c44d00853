import { Kysely, Migrator, PostgresDialect, type Migration, type MigrationProvider, type Transaction } from 'kysely';
import pg from 'pg';

// DATE columns stay "YYYY-MM-DD" strings instead of shifting through local-time Dates.
pg.types.setTypeParser(1082, (v: string) => v);
// BIGINT counts fit in a double for everything this system stores.
pg.types.setTypeParser(20, (v: string) => Number(v));

/** A Kysely instance over a pg Pool. Close it with `db.destroy()`. */
export function createDb<DB>(url: string, poolSize: number): { db: Kysely<DB>; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle connection that the server closes (restart, failover) is dropped by
  // the pool; without a listener the event would crash the process.
  pool.on('error', () => undefined);
  return { db: new Kysely<DB>({ dialect: new PostgresDialect({ pool }) }), pool };
}

/** The database named in `url`, and a connection to the server's `postgres` database to manage it. */
async function adminConnection(url: string): Promise<{ name: string; client: pg.Client }> {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`unsupported database name "${name}"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  return { name, client };
}

/** Creates the database named in `url` if it does not exist (connecting to the `postgres` database to do so). */
export async function ensureDatabase(url: string): Promise<void> {
  const { name, client } = await adminConnection(url);
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } catch (err) {
        // Another process created it at the same moment.
        if ((err as { code?: string }).code !== '42P04' && (err as { code?: string }).code !== '23505') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

/** Drops a database (tests only). */
export async function dropDatabase(url: string): Promise<void> {
  const { name, client } = await adminConnection(url);
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * Brings one service's schema up to date. Each service keeps its own schema and
 * its own migration table inside it, so services migrate independently.
 */
export async function migrateSchema(db: Kysely<any>, schema: string, migrations: Record<string, Migration>): Promise<void> {
  await db.schema.createSchema(schema).ifNotExists().execute();
  const provider: MigrationProvider = { getMigrations: async () => migrations };
  const migrator = new Migrator({ db, provider, migrationTableSchema: schema });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`migrating schema ${schema} failed at ${failed?.migrationName ?? '?'}: ${String((error as Error)?.message ?? error)}`);
  }
}

/** True for a PostgreSQL unique-violation error, optionally on one constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/** True for a PostgreSQL foreign-key violation, optionally on one constraint. */
export function isForeignKeyViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23503' && (constraint === undefined || e.constraint === constraint);
}

const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Runs `fn` in a transaction and runs it again (up to `attempts` times) when
 * PostgreSQL aborts it for a deadlock or a serialization failure.
 *
 * @example
 *   const result = await retryingTransaction(db, (trx) => decide(trx, batch));
 */
export async function retryingTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Transaction<DB>) => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await db.transaction().execute(fn);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (i >= attempts || !code || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * i));
    }
  }
}
