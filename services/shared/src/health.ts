import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const HealthClient = grpc.makeClientConstructor(healthService, 'grpc.health.v1.Health');

/**
 * Asks a server's standard gRPC health service whether `service` is SERVING;
 * false on any error or after a one-second deadline.
 *
 * @example
 *   while (!(await isServing('127.0.0.1:50051', 'coursereg.course.v1.CourseService'))) await sleep(250);
 */
export function isServing(addr: string, service: string): Promise<boolean> {
  const client = new HealthClient(addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
  };
  return new Promise((resolve) => {
    client.check({ service }, { deadline: Date.now() + 1000 }, (err, res) => {
      client.close();
      resolve(!err && res.status === 'SERVING');
    });
  });
}
