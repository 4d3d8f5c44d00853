import * as grpc from '@grpc/grpc-js';
import { Counter } from 'prom-client';
import { StudentServiceClient } from '../../../gen/coursereg/student/v1/student_service';
import { connectAmqp } from '../../shared/src/amqp';
import { TokenSigner, serviceAuth } from '../../shared/src/auth';
import { createDb, ensureDatabase, migrateSchema } from '../../shared/src/db';
import { onShutdownSignal } from '../../shared/src/lifecycle';
import { createLogger } from '../../shared/src/logger';
import { Metrics } from '../../shared/src/metrics';
import { createRedis } from '../../shared/src/redis';
import { readRegistrationConfig } from './config';
import type { RegistrationDatabase } from './db';
import { createDecider } from './decisions/decider';
import { Publisher } from './messaging/publisher';
import { registrationMigrations } from './migrations';
import { SeatStore } from './seats/seats.store';
import { createEligibility } from './students/eligibility.client';
import { createConsumer } from './worker/consumer';
import { createBackgroundJobs } from './worker/relay';

/**
 * Starts a registration worker: consumes the request shards and decides them,
 * and takes part in the leased background jobs (outbox relay, reconciler).
 * Any number can run; each shard has one active consumer at a time.
 */
export async function startRegistrationWorker(env?: Record<string, string | undefined>) {
  const config = readRegistrationConfig(env);
  const log = createLogger('registration-worker', config.LOG_LEVEL);
  await ensureDatabase(config.DATABASE_URL);
  const { db, pool } = createDb<RegistrationDatabase>(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  await migrateSchema(db, 'registration', registrationMigrations);
  const redis = createRedis(config.REDIS_URL, config.REDIS_KEY_PREFIX);
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'));
  const metrics = new Metrics('registration-worker');
  metrics.watchPool('registration', pool);
  const decided = new Counter({ name: 'coursereg_registration_decisions_total', help: 'Requests decided by this worker', registers: [metrics.registry] });

  const signer = await TokenSigner.fromFile(config.JWT_PRIVATE_KEY_FILE, config.JWT_ISSUER, config.JWT_AUDIENCE);
  const studentClient = new StudentServiceClient(config.STUDENT_SERVICE_ADDR, grpc.credentials.createInsecure());
  const eligibility = createEligibility(studentClient, serviceAuth(signer, 'registration-worker'));
  const seats = new SeatStore(redis, config.SEAT_HOLD_TTL_SECONDS * 1000);
  const publisher = new Publisher(config.AMQP_URL, config.REGISTRATION_SHARDS, log);
  await publisher.ready();
  const jobs = createBackgroundJobs({ db, redis, publisher, log, shards: config.REGISTRATION_SHARDS, republishAfterMs: config.PENDING_REPUBLISH_SECONDS * 1000 });
  const decider = createDecider({ db, eligibility, seats, log, onCommitted: () => jobs.nudge() });
  const conn = await connectAmqp(config.AMQP_URL);
  conn.on('error', (err: Error) => log.error({ err: err.message }, 'amqp connection error'));
  const consumer = createConsumer({
    conn,
    decider,
    redis,
    log,
    onDecided: (n) => decided.inc(n),
    options: {
      shards: config.REGISTRATION_SHARDS,
      prefetch: config.WORKER_PREFETCH,
      batchMax: config.WORKER_BATCH_MAX,
      batchWaitMs: config.WORKER_BATCH_WAIT_MS,
      maxAttempts: config.WORKER_MAX_ATTEMPTS,
    },
  });
  await seats.forgetAll(); // start-up rebuild: each section reloads from PostgreSQL on next use
  await consumer.start();
  jobs.start();
  const host = config.REGISTRATION_GRPC_ADDR.split(':')[0];
  const metricsServer = await metrics.serve(host, config.WORKER_METRICS_PORT);
  log.info({ shards: config.REGISTRATION_SHARDS, metricsPort: metricsServer.port }, 'registration worker running');

  return {
    log,
    metricsPort: metricsServer.port,
    jobs,
    decider,
    async stop() {
      await consumer.stop();
      await jobs.stop();
      await conn.close().catch(() => undefined);
      await publisher.close();
      studentClient.close();
      await new Promise<void>((resolve) => metricsServer.server.close(() => resolve()));
      await db.destroy();
      redis.disconnect();
    },
  };
}

if (require.main === module) {
  startRegistrationWorker().then(
    (w) => onShutdownSignal(w.log, w.stop),
    (err: unknown) => {
      console.error(`registration worker failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
