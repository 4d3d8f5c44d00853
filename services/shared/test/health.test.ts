import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { HealthChecker, isServing } from '../src/health';

const SERVICE = 'test.v1.Thing';

/** A gRPC server with only the standard health service, on `port` (0: any free port). */
async function healthServer(port: number, status: 'SERVING' | 'NOT_SERVING'): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  new HealthImplementation({ [SERVICE]: status }).addToServer(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port: bound };
}

test('healthChecker_hostStopsAndComesBack_failsThenPassesAtTheNextCheck', async () => {
  const first = await healthServer(0, 'SERVING');
  const checker = new HealthChecker(`127.0.0.1:${first.port}`);
  try {
    expect(await checker.check(SERVICE, 1000)).toBe(true);
    expect(await checker.check(SERVICE, 1000)).toBe(true);
    expect(await checker.check('test.v1.Unknown', 1000)).toBe(false);

    first.server.forceShutdown();
    expect(await checker.check(SERVICE, 1000)).toBe(false);

    // Back on the same port: the next check dials afresh and sees it at once.
    const again = await healthServer(first.port, 'SERVING');
    try {
      expect(await checker.check(SERVICE, 1000)).toBe(true);
    } finally {
      again.server.forceShutdown();
    }
  } finally {
    checker.close();
  }
});

test('isServing_notServingStatus_isFalse', async () => {
  const { server, port } = await healthServer(0, 'NOT_SERVING');
  try {
    expect(await isServing(`127.0.0.1:${port}`, SERVICE)).toBe(false);
  } finally {
    server.forceShutdown();
  }
});

test('probe_tellsANotServingAnswer_fromAHostThatCannotBeReached', async () => {
  // Envoy's health checker counts these differently: see upstream.ts startHealthChecks.
  const serving = await healthServer(0, 'SERVING');
  const notServing = await healthServer(0, 'NOT_SERVING');
  const bare = new grpc.Server(); // no health service at all: UNIMPLEMENTED
  const barePort = await new Promise<number>((resolve, reject) => bare.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const checkers: HealthChecker[] = [];
  const probe = (port: number, service = SERVICE, timeoutMs = 1000) => {
    const c = new HealthChecker(`127.0.0.1:${port}`);
    checkers.push(c);
    return c.probe(service, timeoutMs);
  };
  try {
    expect(await probe(serving.port)).toBe('serving');
    expect(await probe(notServing.port)).toBe('failed');
    expect(await probe(serving.port, 'test.v1.Unknown')).toBe('failed');
    expect(await probe(barePort)).toBe('failed');
    serving.server.forceShutdown();
    expect(await probe(serving.port)).toBe('unreachable');
  } finally {
    for (const c of checkers) c.close();
    notServing.server.forceShutdown();
    bare.forceShutdown();
  }
});

