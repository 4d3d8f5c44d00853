import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const HealthClient = grpc.makeClientConstructor(healthService, 'grpc.health.v1.Health');

type HealthClientLike = grpc.Client & {
  check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
};

/** What one health check found: see {@link HealthChecker.probe}. */
export type HealthProbe = 'serving' | 'failed' | 'unreachable';

/** Codes of a check that never reached a health service: the connection (or its absence), or the deadline. */
const UNREACHABLE_CODES = new Set<grpc.status>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED]);

/**
 * A health-check client for one address that keeps its connection between
 * passing checks, as Envoy's active health checker does. After a failed check
 * the connection is dropped and the next check dials afresh, so a host that
 * comes back is seen by the very next check rather than after a reconnect
 * back-off.
 */
export class HealthChecker {
  private client?: HealthClientLike;

  constructor(readonly addr: string) {}

  /** Whether `service` is SERVING; false on any error or after `timeoutMs`. */
  async check(service: string, timeoutMs = 1000): Promise<boolean> {
    return (await this.probe(service, timeoutMs)) === 'serving';
  }

  /**
   * Asks whether `service` is SERVING, telling apart, as Envoy's gRPC health checker does, a
   * host that answered it is not (`failed`: NOT_SERVING, an unknown service, no health service
   * at all, any status it sent) from one that could not be asked (`unreachable`: no
   * connection, the connection lost, or no answer within `timeoutMs`).
   */
  probe(service: string, timeoutMs = 1000): Promise<HealthProbe> {
    const client = (this.client ??= new HealthClient(this.addr, grpc.credentials.createInsecure()) as unknown as HealthClientLike);
    return new Promise((resolve) => {
      client.check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => {
        const result: HealthProbe = !err ? (res.status === 'SERVING' ? 'serving' : 'failed') : UNREACHABLE_CODES.has(err.code) ? 'unreachable' : 'failed';
        if (result !== 'serving' && this.client === client) this.close();
        resolve(result);
      });
    });
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
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
