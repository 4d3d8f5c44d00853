import type { Kysely, Migration } from 'kysely';
import type pg from 'pg';
import { readJwks, TokenVerifier } from './auth';
import type { BaseConfig } from './config';
import { createDb, ensureDatabase, migrateSchema } from './db';
import { createLogger, type Logger } from './logger';
import { Metrics } from './metrics';
import { createRedis, type Redis } from './redis';
import { startGrpcServer, type HostedService } from './server';

/** Connections and helpers a service's factories are built from. */
export interface Infra<DB> {
  db: Kysely<DB>;
  pool: pg.Pool;
  redis: Redis;
  log: Logger;
  metrics: Metrics;
  verifier: TokenVerifier;
}

export interface StartedService {
  port: number;
  metricsPort: number;
  log: Logger;
  /** Stops accepting calls, finishes in-flight ones, then closes pools. */
  stop(): Promise<void>;
}

/**
 * Starts one service process: database (created and migrated), Redis, token
 * verifier, gRPC server with health, reflection and metrics. main.ts of every
 * service is this call plus its own factories.
 */
export async function startService<DB>(opts: {
  name: string;
  config: BaseConfig;
  grpcAddr: string;
  metricsPort: number;
  schema: string;
  migrations: Record<string, Migration>;
  build: (infra: Infra<DB>) => Promise<{ services: HostedService[]; close?: () => Promise<void> }>;
}): Promise<StartedService> {
  const { config } = opts;
  const log = createLogger(opts.name, config.LOG_LEVEL);
  await ensureDatabase(config.DATABASE_URL);
  const { db, pool } = createDb<DB>(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  await migrateSchema(db, opts.schema, opts.migrations);
  const redis = createRedis(config.REDIS_URL, config.REDIS_KEY_PREFIX);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis error'));
  const metrics = new Metrics(opts.name);
  metrics.watchPool(opts.schema, pool);
  const verifier = new TokenVerifier({ jwks: readJwks(config.JWT_JWKS_FILE), issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
  const built = await opts.build({ db, pool, redis, log, metrics, verifier });
  const [host, portText] = opts.grpcAddr.split(':');
  const server = await startGrpcServer({ host, port: Number(portText), services: built.services, verifier, metrics, log });
  const metricsServer = await metrics.serve(host, opts.metricsPort);
  log.info({ port: server.port, metricsPort: metricsServer.port }, `${opts.name} listening`);
  return {
    port: server.port,
    metricsPort: metricsServer.port,
    log,
    async stop() {
      await server.shutdown(config.SHUTDOWN_GRACE_MS);
      await built.close?.();
      await new Promise<void>((resolve) => metricsServer.server.close(() => resolve()));
      await db.destroy();
      redis.disconnect();
    },
  };
}
