import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../shared/src/logger';
import type { ClusterPlan } from '../src/envoy/plan';
import { Cluster, type UpstreamRequest } from '../src/proxy/upstream';

/**
 * How a cluster of several hosts picks one per call, for each lb_policy the
 * gateway takes from envoy.yaml, over real HTTP/2 connections to stand-in hosts.
 */

interface Host {
  server: http2.Http2Server;
  address: string;
  hits: number;
  /** When set, calls are held (not answered) until the test answers them. */
  hold: boolean;
  held: http2.ServerHttp2Stream[];
}

const log = createLogger('cluster-test', 'silent');
let hosts: Host[];
const clusters: Cluster[] = [];

function answer(stream: http2.ServerHttp2Stream): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
}

async function startHost(): Promise<Host> {
  const server = http2.createServer();
  const host: Host = { server, address: '', hits: 0, hold: false, held: [] };
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.resume();
    host.hits++;
    if (host.hold) host.held.push(stream);
    else answer(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return host;
}

beforeAll(async () => {
  hosts = [await startHost(), await startHost(), await startHost()];
});

beforeEach(() => {
  for (const h of hosts) {
    h.hits = 0;
    h.hold = false;
  }
});

afterAll(async () => {
  for (const c of clusters) c.close();
  for (const h of hosts) {
    for (const s of h.held) answer(s);
    await new Promise<void>((resolve) => h.server.close(() => resolve()));
  }
});

function cluster(lbPolicy: ClusterPlan['lbPolicy'], addresses: string[], random?: () => number): Cluster {
  const plan: ClusterPlan = {
    name: 'stand-in',
    addresses,
    lbPolicy,
    http2: true,
    connectTimeoutMs: 1000,
    breaker: { maxConnections: 4, maxPendingRequests: 100, maxRequests: 100, maxRetries: 3 },
  };
  const c = new Cluster(plan, addresses, 1, log, random);
  clusters.push(c);
  return c;
}

function request(): UpstreamRequest {
  return {
    headers: { ':method': 'POST', ':path': '/test.v1.Service/Method', 'content-type': 'application/grpc', te: 'trailers' },
    body: Buffer.from([0, 0, 0, 0, 0]),
    headersTimeoutMs: 2000,
  };
}

/** Sends one call and returns the index of the host that took it. */
async function callAndSeeWhere(c: Cluster): Promise<number> {
  const before = hosts.map((h) => h.hits);
  const res = await c.send(request());
  res.stream.resume();
  res.release();
  return hosts.findIndex((h, i) => h.hits > before[i]);
}

test('roundRobin_threeHosts_takesThemInTurn', async () => {
  const c = cluster('ROUND_ROBIN', hosts.map((h) => h.address));
  const order: number[] = [];
  for (let i = 0; i < 9; i++) order.push(await callAndSeeWhere(c));
  expect(order).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
});

test('random_picksTheHostItsRandomSourceNames', async () => {
  const draws = [0.1, 0.9, 0.5, 0.4, 0.7];
  let n = 0;
  const c = cluster('RANDOM', hosts.map((h) => h.address), () => draws[n++ % draws.length]);
  const order: number[] = [];
  for (let i = 0; i < draws.length; i++) order.push(await callAndSeeWhere(c));
  // floor(draw × 3 hosts)
  expect(order).toEqual([0, 2, 1, 1, 2]);
});

test('leastRequest_oneHostBusy_sendsNewCallsToTheIdleOne', async () => {
  // Two hosts: both are always the two choices, so the less busy one wins; a tie goes to the first draw.
  const c = cluster('LEAST_REQUEST', [hosts[0].address, hosts[1].address], () => 0);
  hosts[0].hold = true;
  const busy = c.send(request());
  await waitFor(() => hosts[0].hits === 1);
  const order: number[] = [];
  for (let i = 0; i < 4; i++) order.push(await callAndSeeWhere(c));
  expect(order).toEqual([1, 1, 1, 1]);
  expect(c.inFlight).toBe(1);

  // Once the busy call finishes the hosts are even again, and the first draw (host 0) wins.
  hosts[0].hold = false;
  answer(hosts[0].held.shift()!);
  const res = await busy;
  res.stream.resume();
  res.release();
  expect(c.inFlight).toBe(0);
  expect(await callAndSeeWhere(c)).toBe(0);
});

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
