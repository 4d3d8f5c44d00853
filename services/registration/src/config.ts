import { z } from 'zod';
import { address, integer, loadConfig, port } from '../../shared/src/config';

const count = (def: number, max: number) => integer(1, max, def);

/** The registration service's and workers' settings, read once from the environment. */
export const readRegistrationConfig = (env?: Record<string, string | undefined>) =>
  loadConfig(
    {
      REGISTRATION_GRPC_ADDR: address('127.0.0.1:50053'),
      REGISTRATION_METRICS_PORT: port(9453),
      WORKER_METRICS_PORT: port(9454),
      COURSE_SERVICE_ADDR: address('127.0.0.1:50051'),
      STUDENT_SERVICE_ADDR: address('127.0.0.1:50052'),
      /** Request queues; each section always goes to the same one, and each has one active consumer. */
      REGISTRATION_SHARDS: count(4, 64),
      /** Unacknowledged messages a worker takes per shard. */
      WORKER_PREFETCH: count(256, 5000),
      /** Most requests decided in one transaction. */
      WORKER_BATCH_MAX: count(256, 5000),
      /** How long a worker waits to fill a batch once it has one message, in ms. */
      WORKER_BATCH_WAIT_MS: integer(0, 1000, 5),
      /** Attempts before a failing request goes to the dead-letter queue. */
      WORKER_MAX_ATTEMPTS: count(5, 100),
      /** A seat hold that is never decided expires after this long. */
      SEAT_HOLD_TTL_SECONDS: count(120, 3600),
      /** PENDING requests older than this are republished by the reconciler. */
      PENDING_REPUBLISH_SECONDS: count(30, 3600),
      /** A cart unused for this long is removed. */
      CART_TTL_SECONDS: count(3600, 7 * 86400),
      /** Most sections in one cart. */
      CART_MAX_ITEMS: count(12, 50),
    },
    env,
  );

export type RegistrationConfig = ReturnType<typeof readRegistrationConfig>;
