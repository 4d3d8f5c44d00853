import * as http2 from 'node:http2';
import * as net from 'node:net';
import { createTestEnv, type TestEnv } from '../../shared/testing/harness';
import { startGateway, type StartedGateway } from '../src/main';
import { changedEnvoyConfig } from './gateway.fixtures';
import { startStandIn, waitFor, type StandIn } from './stand-in';

// Callers who leave before the gateway has read their request: nothing reaches the service,
// and the call ends at the gateway (it no longer counts as in flight).

const REGISTER = '/coursereg.registration.v1.RegistrationService/Register';

let env: TestEnv;
let config: ReturnType<typeof changedEnvoyConfig>;
let silentRedis: net.Server;
const silentSockets = new Set<net.Socket>();
let service: StandIn;
let gw: StartedGateway;
let token: string;
/** Calls that reached the service, and those of them that came whole (END_STREAM). */
const reached = { calls: 0, whole: 0 };

beforeAll(async () => {
  env = await createTestEnv('gateway_callers_gone');
  token = await env.signer.sign('registrar-1', 'registrar', 3600);
  service = await startStandIn((stream) => {
    reached.calls++;
    stream.on('end', () => {
      reached.whole++;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
    });
  });
  // A Redis that never answers, and a limit check timeout of 1 s: every call waits 1 s for its
  // limits (then fails open), so a caller can leave while its call waits for them.
  silentRedis = net.createServer((s) => {
    silentSockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silentRedis.listen(0, '127.0.0.1', resolve));
  config = changedEnvoyConfig((yaml) => {
    expect(yaml).toContain('timeout: 0.05s');
    return yaml.replace('timeout: 0.05s', 'timeout: 1s');
  });
  gw = await startGateway({
    ...env.env,
    GATEWAY_PORT: '0',
    GATEWAY_METRICS_PORT: '0',
    REGISTRATION_SERVICE_ADDR: service.address,
    WEB_DIST_DIR: '/nonexistent',
    ENVOY_CONFIG_FILE: config.file,
    REDIS_URL: `redis://127.0.0.1:${(silentRedis.address() as net.AddressInfo).port}`,
  });
});

afterAll(async () => {
  await gw?.stop();
  await service?.close();
  config?.remove();
  for (const s of silentSockets) s.destroy();
  await new Promise<void>((resolve) => (silentRedis ? silentRedis.close(() => resolve()) : resolve()));
  await env?.cleanup();
});

beforeEach(() => {
  reached.calls = 0;
  reached.whole = 0;
});

it('http1_callersWhoLeaveWhileTheirLimitsAreChecked_areNotLeftInFlight', async () => {
  const sockets = Array.from({ length: 10 }, () => net.connect(gw.port, '127.0.0.1'));
  for (const s of sockets) {
    s.on('error', () => undefined);
    // A whole gRPC-web request (an empty message), then gone before the limit checks answer.
    s.write(
      `POST ${REGISTER} HTTP/1.1\r\nhost: x\r\ncontent-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\nauthorization: Bearer ${token}\r\ncontent-length: 5\r\n\r\n`,
    );
    s.write(Buffer.from([0, 0, 0, 0, 0]));
  }
  await waitFor(() => gw.inFlight === 10, `the 10 calls to be in flight (${gw.inFlight})`);
  for (const s of sockets) s.destroy();
  await waitFor(() => gw.inFlight === 0, `the calls of callers who left to end (${gw.inFlight} in flight)`);
  expect(reached.calls).toBe(0);
});

it('http2_aCallerThatResetsItsCallBeforeEndingTheRequest_neverReachesTheServiceWhole', async () => {
  const session = http2.connect(`http://127.0.0.1:${gw.port}`);
  session.on('error', () => undefined);
  try {
    for (const partial of [Buffer.from([0, 0, 0, 0]), Buffer.from([0, 0, 0, 0, 0])]) {
      const stream = session.request({ ':method': 'POST', ':path': REGISTER, 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${token}` });
      stream.on('error', () => undefined);
      // A message (whole or not), never END_STREAM; then a reset once the gateway reads the body.
      stream.write(partial);
      await waitFor(() => gw.inFlight === 1, 'the call to be in flight');
      // Past the limit checks (1 s), the gateway is reading the body when the reset comes.
      await new Promise((r) => setTimeout(r, 1300));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await waitFor(() => gw.inFlight === 0, 'the reset call to end');
    }
    // Nothing the service could take for a whole request: a unary handler starts at END_STREAM.
    expect(reached.whole).toBe(0);
  } finally {
    session.destroy();
  }
});
