import { join } from 'node:path';

/** Where the benchmark's world lives; read once. Defaults are the local services on standard ports. */
export const benchConfig = Object.freeze({
  databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/coursereg_bench',
  redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0',
  redisKeyPrefix: process.env.BENCH_REDIS_KEY_PREFIX ?? 'coursereg-bench:',
  amqpBase: process.env.BENCH_AMQP_BASE ?? 'amqp://guest:guest@127.0.0.1:5672',
  vhost: process.env.BENCH_AMQP_VHOST ?? 'coursereg-bench',
  /** The pgbench binary (from the PostgreSQL client package). */
  pgbenchBinary: process.env.BENCH_PGBENCH ?? 'pgbench',
  logLevel: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn',
});

export const ROOT = join(__dirname, '..', '..');
export const RESULTS_DIR = join(ROOT, 'bench', 'results');
