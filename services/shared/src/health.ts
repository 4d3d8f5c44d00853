import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const HealthClient = grpc.makeClientConstructor(healthService, 'grpc.health.v1.Health');

type HealthClientLike = grpc.Client & {
  check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
};

/**
 * A health-check client for one address that keeps its connection between
 * checks, as Envoy's active health checker does. While the address is down,
 * checks fail at once and the channel tries to reconnect every `reconnectMs`, so
 * a host that comes back is seen by the next check or the one after.
 */
export class HealthChecker {
  private readonly client: HealthClientLike;

  constructor(
    readonly addr: string,
    reconnectMs = 1000,
  ) {
    this.client = new HealthClient(addr, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': reconnectMs,
      'grpc.max_reconnect_backoff_ms': reconnectMs,
    }) as unknown as HealthClientLike;
  }

  /** Whether `service` is SERVING; false on any error or after `timeoutMs`. */
  check(service: string, timeoutMs = 1000): Promise<boolean> {
    return new Promise((resolve) => {
      this.client.check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => resolve(!err && res.status === 'SERVING'));
    });
  }

  close(): void {
    this.client.close();
  }
}

/**
 * Asks a server's standard gRPC health service, once, whether `service` is
 * SERVING; false on any error or after a one-second deadline.
 *
 * @example
 *   while (!(await isServing('127.0.0.1:50051', 'coursereg.course.v1.CourseService'))) await sleep(250);
 */
export async function isServing(addr: string, service: string): Promise<boolean> {
  const checker = new HealthChecker(addr);
  try {
    return await checker.check(service);
  } finally {
    checker.close();
  }
}
