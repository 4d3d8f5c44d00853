import * as http2 from 'node:http2';
import * as net from 'node:net';
import { parse, stringify } from 'yaml';
import { createTestEnv, type TestEnv } from '../../shared/testing/harness';
import { startGateway, type StartedGateway } from '../src/main';
import type { Cluster } from '../src/proxy/upstream';
import { changedEnvoyConfig } from './gateway.fixtures';
import { startStandIn, waitFor, type StandIn } from './stand-in';

/**
 * What the gateway does when a caller goes away before its answer has started: as Envoy
 * resets the upstream request when the downstream one is reset, nothing the caller asked
 * for may stay behind (upstream streams, places in the cluster's counts, calls in flight).
 */

const REGISTRATION = '/coursereg.registration.v1.RegistrationService';
/** A gRPC frame holding an empty message. */
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);

let env: TestEnv;
let token: string;
let upstream: StandIn;
/** Calls the stand-in registration service has received and not yet seen closed, by path. */
const open = new Map<http2.ServerHttp2Stream, string>();
const received: string[] = [];

beforeAll(async () => {
  env = await createTestEnv('gateway_resilience');
  token = await env.signer.sign('registrar-1', 'registrar', 3600);
  // A stand-in registration service that holds every call without answering (a Watch whose
  // first event has not happened yet, or a slow write).
  upstream = await startStandIn((stream, headers) => {
    const path = String(headers[':path']);
    received.push(path);
    open.set(stream, path);
    stream.on('close', () => open.delete(stream));
  });
});

afterAll(async () => {
  await upstream?.close();
  await env?.cleanup();
});

function gateway(extra: Record<string, string> = {}): Promise<StartedGateway> {
  return startGateway({ ...env.env, GATEWAY_PORT: '0', GATEWAY_METRICS_PORT: '0', REGISTRATION_SERVICE_ADDR: upstream.address, WEB_DIST_DIR: '/nonexistent', ...extra });
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** A native gRPC call through the gateway, with `extra` headers; the body is sent and ended unless `body` is false. */
function grpcCall(session: http2.ClientHttp2Session, method: string, body = true, extra: Record<string, string> = {}): http2.ClientHttp2Stream {
  const req = session.request({ ':method': 'POST', ':path': `${REGISTRATION}/${method}`, 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${token}`, ...extra });
  req.on('error', () => undefined);
  if (body) req.end(EMPTY_MESSAGE);
  else req.write(EMPTY_MESSAGE);
  return req;
}

/** Runs `body` with a gateway (started with `extra`) and an HTTP/2 session to it, then closes both and removes `config`, if given. */
async function withGatewaySession(extra: Record<string, string>, body: (gw: StartedGateway, session: http2.ClientHttp2Session) => Promise<void>, config?: { remove(): void }): Promise<void> {
  const gw = await gateway(extra);
  const session = await connect(gw.port);
  session.on('error', () => undefined);
  try {
    await body(gw, session);
  } finally {
    session.destroy();
    await gw.stop();
    config?.remove();
  }
}

const openTo = (method: string) => [...open.values()].filter((p) => p === `${REGISTRATION}/${method}`).length;

test('callerGone_whileTheUpstreamHasNotAnswered_cancelsTheUpstreamStream', async () => {
  await withGatewaySession({}, async (gw, session) => {
    const registration = gw.upstreams.get('registration')!;
    // A Watch (no deadline on its route) that the service has not answered yet, and the caller leaves.
    const watch = grpcCall(session, 'WatchSection');
    await waitFor(() => openTo('WatchSection') === 1, 'the service receives the watch');
    expect(registration.inFlight).toBe(1);
    watch.close(http2.constants.NGHTTP2_CANCEL);

    // Envoy resets the upstream stream too: nothing is left open for a caller who is gone.
    await waitFor(() => openTo('WatchSection') === 0, 'the upstream watch is cancelled');
    await waitFor(() => registration.inFlight === 0 && registration.resources.requests === 0, 'the cluster counts the call out');
  });
});

test('callerGone_fromAWriteTheServiceHasNotAnswered_isCancelledUpstream_soShutdownDoesNotWaitTheGrace', async () => {
  const gw = await gateway({ SHUTDOWN_GRACE_MS: '5000' });
  const registration = gw.upstreams.get('registration')!;
  const session = await connect(gw.port);
  session.on('error', () => undefined);
  // A write the service holds (its route's timeout is 10 s); the caller gives up on it.
  const call = grpcCall(session, 'Drop');
  await waitFor(() => openTo('Drop') === 1, 'the service receives the write');
  call.close(http2.constants.NGHTTP2_CANCEL);
  await waitFor(() => openTo('Drop') === 0, 'the upstream call is cancelled');
  await waitFor(() => registration.inFlight === 0, 'the cluster counts the call out');
  // The caller's leaving says nothing about the host.
  expect(registration.hosts[0].breaker.stats.failures).toBe(0);
  session.destroy();
  const started = Date.now();
  await gw.stop();
  // Nothing is left in flight, so the drain ends at once rather than after the grace period.
  expect(Date.now() - started).toBeLessThan(2000);
}, 15_000);

/** envoy.yaml with the registration cluster allowed one connection of one stream and one call waiting for it. */
function oneStreamConfig(): { file: string; remove(): void } {
  interface ClusterDoc {
    name: string;
    circuit_breakers: { thresholds: Array<Record<string, unknown>> };
    typed_extension_protocol_options: Record<string, { explicit_http_config: { http2_protocol_options: Record<string, unknown> } }>;
  }
  return changedEnvoyConfig((yaml) => {
    const doc = parse(yaml) as { static_resources: { clusters: ClusterDoc[] } };
    const cluster = doc.static_resources.clusters.find((c) => c.name === 'registration')!;
    Object.assign(cluster.circuit_breakers.thresholds[0], { max_connections: 1, max_pending_requests: 1 });
    cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config.http2_protocol_options.max_concurrent_streams = 1;
    return stringify(doc);
  });
}

/** envoy.yaml with the route called `name` changed by `edit` (its `route` action). */
function changedRoute(name: string, edit: (route: Record<string, unknown>) => void): { file: string; remove(): void } {
  interface RouteDoc {
    name: string;
    route: Record<string, unknown>;
  }
  return changedEnvoyConfig((yaml) => {
    const doc = parse(yaml) as { static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { route_config: { virtual_hosts: Array<{ routes: RouteDoc[] }> } } }> }> }> } };
    edit(doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes.find((r) => r.name === name)!.route);
    return stringify(doc);
  });
}

interface OneStreamBusy {
  gw: StartedGateway;
  registration: Cluster;
  session: http2.ClientHttp2Session;
  /** The watch holding the registration cluster's only stream. */
  first: http2.ClientHttp2Stream;
}

/** Runs `body` with a gateway whose registration cluster has one stream (oneStreamConfig), already taken by a watch. */
async function withOneStreamBusy(body: (ctx: OneStreamBusy) => Promise<void>): Promise<void> {
  const config = oneStreamConfig();
  const gw = await gateway({ ENVOY_CONFIG_FILE: config.file });
  const session = await connect(gw.port);
  session.on('error', () => undefined);
  try {
    const first = grpcCall(session, 'WatchSection');
    await waitFor(() => openTo('WatchSection') === 1, 'the first watch takes the only stream');
    await body({ gw, registration: gw.upstreams.get('registration')!, session, first });
  } finally {
    session.destroy();
    await gw.stop();
    config.remove();
  }
}

test('aDeadlinePassingWhileTheCallWaitsForAStream_isDeadlineExceeded_andTheCallIsNeverSent', () =>
  withOneStreamBusy(async ({ registration, session, first }) => {
    const req = grpcCall(session, 'Register', true, { 'grpc-timeout': '300m' });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    // As in Envoy, only the call's deadline bounds its wait in the pool, and it ends as DEADLINE_EXCEEDED.
    expect(headers['grpc-status']).toBe('4');
    expect(received.filter((p) => p.endsWith('/Register'))).toHaveLength(0);
    expect(registration.resources.pending).toBe(0);
    // The wait says nothing about the host.
    expect(registration.hosts[0].state).toBe('closed');
    first.close(http2.constants.NGHTTP2_CANCEL);
  }));

test('aDeadlinePassingWhileAReadWaitsForAStream_isNotRetried', () =>
  withOneStreamBusy(async ({ gw, registration, session, first }) => {
    // A read's route retries gateway errors, a per-try timeout among them. The call's own
    // deadline running out in the queue is not one: as Envoy's global timeout, it is never
    // retried, so no max_retries place is taken and no retry is counted.
    const req = grpcCall(session, 'ListRegistrations', true, { 'grpc-timeout': '200m' });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    expect(headers['grpc-status']).toBe('4');
    expect(received.filter((p) => p.endsWith('/ListRegistrations'))).toHaveLength(0);
    expect(registration.resources.pending).toBe(0);
    expect(registration.retriesInFlight).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
    expect(metrics).not.toMatch(/coursereg_gateway_upstream_retries_total\{[^}]*cluster="registration"[^}]*\} [1-9]/);
    expect(registration.hosts[0].state).toBe('closed');
    first.close(http2.constants.NGHTTP2_CANCEL);
  }));

test('aBodyThatDoesNotComeWithinTheCallsDeadline_isDeadlineExceeded_andNeverSent', async () => {
  // The stream's limit runs from the call's start, as Envoy's max_stream_duration timer does:
  // a caller who sends its headers and never finishes the body does not hold the call open.
  await withGatewaySession({}, async (gw, session) => {
    const registersBefore = received.filter((p) => p.endsWith('/Register')).length;
    const started = Date.now();
    const req = grpcCall(session, 'Register', false, { 'grpc-timeout': '200m' });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    expect(headers['grpc-status']).toBe('4');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(received.filter((p) => p.endsWith('/Register'))).toHaveLength(registersBefore);
    req.close();
  });
});

test('aBodyThatStopsComing_onARouteWithoutADeadline_endsAtTheIdleTimeout', async () => {
  // The streams' route has no deadline without grpc-timeout; its idle_timeout (an hour in
  // envoy.yaml, 0.2 s here) still ends a call whose request body stops coming, as Envoy's
  // stream idle timer does.
  const config = changedRoute('registration-streams', (route) => {
    route.idle_timeout = '0.2s';
  });
  await withGatewaySession({ ENVOY_CONFIG_FILE: config.file }, async (gw, session) => {
    const watchesBefore = received.filter((p) => p.endsWith('/WatchSection')).length;
    const started = Date.now();
    const req = grpcCall(session, 'WatchSection', false);
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    expect(headers['grpc-status']).toBe('4');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(received.filter((p) => p.endsWith('/WatchSection'))).toHaveLength(watchesBefore);
    await waitFor(() => gw.inFlight === 0, 'the call is counted out');
    req.close();
  }, config);
});

test('callerGone_beforeItsBodyEnded_endsTheCall', async () => {
  // A caller who leaves halfway through sending its request: the gateway must not wait for
  // the rest of a body that will never come.
  await withGatewaySession({}, async (gw, session) => {
    const watchesBefore = received.filter((p) => p.endsWith('/WatchSection')).length;
    const req = grpcCall(session, 'WatchSection', false);
    await waitFor(() => gw.inFlight === 1, 'the gateway has the call');
    // The connection drops (Node's req.close() would end the body before resetting the stream).
    session.destroy();
    await waitFor(() => gw.inFlight === 0, 'the call is counted out');
    // What came of the body is not sent on as if it were the whole request.
    await new Promise((r) => setTimeout(r, 100));
    expect(received.filter((p) => p.endsWith('/WatchSection'))).toHaveLength(watchesBefore);
  });
});

test('aCallersShortDeadline_endsTheCallWithDeadlineExceeded_butNeverEjectsTheHost', async () => {
  // envoy.yaml ejects a registration host after 5 gateway failures in a row, with no panic
  // routing: were the caller's own deadline counted, these calls would shut out everyone.
  await withGatewaySession({}, async (gw, session) => {
    const registration = gw.upstreams.get('registration')!;
    for (let i = 0; i < 7; i++) {
      const req = grpcCall(session, 'Register', true, { 'grpc-timeout': '60m' });
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
      expect(headers['grpc-status']).toBe('4');
      req.close();
    }
    // Each call reached the service and was cancelled there when its deadline passed.
    await waitFor(() => openTo('Register') === 0, 'the timed-out calls are cancelled upstream');
    expect(registration.hosts[0].state).toBe('closed');
  });
});

test('maxStreamDuration_boundsACallWithoutGrpcTimeout_andIsNotCountedAgainstTheHost', async () => {
  const config = changedRoute('registration', (route) => {
    (route.max_stream_duration as Record<string, string>).max_stream_duration = '0.15s';
  });
  await withGatewaySession({ ENVOY_CONFIG_FILE: config.file }, async (gw, session) => {
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      const req = grpcCall(session, 'Register');
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
      expect(headers['grpc-status']).toBe('4');
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      req.close();
    }
    expect(gw.upstreams.get('registration')!.hosts[0].state).toBe('closed');
  }, config);
});

test('callerGone_whileWaitingForAStream_leavesTheQueue_andIsNeverSent', () =>
  withOneStreamBusy(async ({ registration, session, first }) => {
    const second = grpcCall(session, 'WatchStudent');
    await waitFor(() => registration.resources.pending === 1, 'the second watch waits for a stream');

    // Its caller leaves: its place in max_pending_requests is free again at once.
    second.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => registration.resources.pending === 0, 'the waiting call leaves the queue');

    // So the next caller waits rather than being refused, and gets the stream when it frees;
    // the call whose caller left is never sent.
    const third = grpcCall(session, 'WatchRegistration');
    let refused: http2.IncomingHttpHeaders | undefined;
    third.on('response', (h) => (refused = h['grpc-status'] !== undefined ? h : undefined));
    await waitFor(() => registration.resources.pending === 1, 'the third watch waits for a stream');
    first.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => openTo('WatchRegistration') === 1, 'the third watch gets the stream');
    expect(refused).toBeUndefined();
    expect(received.filter((p) => p.endsWith('/WatchStudent'))).toHaveLength(0);
    third.close(http2.constants.NGHTTP2_CANCEL);
  }));

describe('the limit store down, with failure_mode_deny', () => {
  /**
   * A "Redis" that stalls: it answers the client's connection set-up (CLIENT, INFO), so the
   * client is ready and its disconnect is clean, and never answers anything else, so every
   * limit check waits out the filter's timeout.
   */
  let stallingRedis: net.Server;
  const stallingSockets = new Set<net.Socket>();
  beforeAll(async () => {
    stallingRedis = net.createServer((socket) => {
      stallingSockets.add(socket);
      socket.on('close', () => stallingSockets.delete(socket));
      let pending = '';
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.toString('latin1');
        // Each command is a RESP array: *<n>, then <n> times $<length> and the argument.
        for (;;) {
          const lines = pending.split('\r\n');
          const n = /^\*(\d+)$/.exec(lines[0]);
          if (!n || lines.length < 1 + 2 * Number(n[1]) + 1) return;
          const command = lines[2].toUpperCase();
          pending = lines.slice(1 + 2 * Number(n[1])).join('\r\n');
          if (command === 'INFO') {
            const info = '# Server\r\nredis_version:7.0.0\r\nloading:0\r\n';
            socket.write(`$${info.length}\r\n${info}\r\n`);
          } else if (command === 'CLIENT') socket.write('+OK\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => stallingRedis.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of stallingSockets) socket.destroy();
    await new Promise<void>((resolve) => stallingRedis.close(() => resolve()));
  });

  /** A gateway whose ratelimit filter fails closed (with `statusOnError`, if given), in front of the stalling Redis. */
  async function denyingGateway(statusOnError?: string): Promise<{ gw: StartedGateway; config: { remove(): void } }> {
    const config = changedEnvoyConfig((yaml) => {
      const deny = yaml.replace(/^( *)failure_mode_deny: false$/m, (_, indent: string) => `${indent}failure_mode_deny: true${statusOnError ? `\n${indent}status_on_error: { code: ${statusOnError} }` : ''}`);
      expect(deny).not.toBe(yaml);
      return deny;
    });
    const redisUrl = `redis://127.0.0.1:${(stallingRedis.address() as net.AddressInfo).port}/0`;
    return { gw: await gateway({ ENVOY_CONFIG_FILE: config.file, REDIS_URL: redisUrl }), config };
  }

  async function register(gw: StartedGateway): Promise<http2.IncomingHttpHeaders> {
    const session = await connect(gw.port);
    session.on('error', () => undefined);
    try {
      const req = grpcCall(session, 'Register');
      return await new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    } finally {
      session.destroy();
    }
  }

  test('aCallIsRefusedAsEnvoyDoes_withStatusOnErrorDecidingTheCode_andNeverReachesTheService', async () => {
    const before = received.length;
    for (const [statusOnError, grpcStatus] of [[undefined, '2'], ['ServiceUnavailable', '14']] as const) {
      const { gw, config } = await denyingGateway(statusOnError);
      try {
        // Envoy's default status_on_error is 500, which gRPC maps to UNKNOWN; 503 maps to UNAVAILABLE.
        const headers = await register(gw);
        expect(headers['grpc-status']).toBe(grpcStatus);
        expect(decodeURIComponent(String(headers['grpc-message']))).toMatch(/rate limit service could not be reached/);
      } finally {
        await gw.stop();
        config.remove();
      }
    }
    expect(received.length).toBe(before);
  });
});
