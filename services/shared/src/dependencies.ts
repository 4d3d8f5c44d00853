import amqp from 'amqplib';
import Redis from 'ioredis';
import pg from 'pg';

/** Start-up failed because PostgreSQL, Redis or RabbitMQ cannot be reached. */
export class DependencyError extends Error {}

function where(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || { 'postgres:': 5432, 'postgresql:': 5432, 'redis:': 6379, 'amqp:': 5672 }[u.protocol] || '?'}`;
}

const HOW_TO_START = {
  PostgreSQL:
    "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or `docker compose -f deploy/compose.yaml up -d postgres`, or set DATABASE_URL",
  Redis:
    "start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no`, or `docker compose -f deploy/compose.yaml up -d redis`, or set REDIS_URL",
  RabbitMQ: 'start it with `rabbitmq-server -detached`, or `docker compose -f deploy/compose.yaml up -d rabbitmq`, or set AMQP_URL',
};

function fail(name: keyof typeof HOW_TO_START, url: string, err: unknown): never {
  throw new DependencyError(`${name} is not reachable at ${where(url)} (${(err as Error).message}); ${HOW_TO_START[name]}.`);
}

/** Checks that PostgreSQL answers (on its `postgres` database, so a missing app database is not an error). */
export async function checkPostgres(url: string): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    fail('PostgreSQL', url, err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Checks that Redis answers PING. */
export async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    fail('Redis', url, err);
  } finally {
    redis.disconnect();
  }
}

/** Checks that RabbitMQ accepts a connection. */
export async function checkRabbitMq(url: string): Promise<void> {
  try {
    const conn = await amqp.connect(url, { timeout: 3000 });
    await conn.close();
  } catch (err) {
    fail('RabbitMQ', url, err);
  }
}

/** Checks all three, reporting every unreachable one at once. */
export async function checkDependencies(urls: { database: string; redis: string; amqp: string }): Promise<void> {
  const results = await Promise.allSettled([checkPostgres(urls.database), checkRedis(urls.redis), checkRabbitMq(urls.amqp)]);
  const problems = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).message);
  if (problems.length > 0) throw new DependencyError(problems.join('\n'));
}
