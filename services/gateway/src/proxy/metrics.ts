import client from 'prom-client';
import { status } from '@grpc/grpc-js';
import type { Metrics } from '../../../shared/src/metrics';
import type { Cluster, Upstream } from './upstream';

/**
 * The gateway's own metrics, on the process registry:
 * - coursereg_gateway_requests_total{route,protocol,code}
 * - coursereg_gateway_request_duration_seconds{route,protocol}
 * - coursereg_gateway_rate_limited_total{limit}
 * - coursereg_gateway_upstream_circuit{cluster,host,state} (1 for each host's current breaker state)
 * - coursereg_gateway_upstream_in_flight{cluster}
 * - coursereg_gateway_upstream_connections{cluster,host} (open HTTP/2 connections, Envoy's upstream_cx_active)
 * - coursereg_gateway_upstream_pending{cluster,host} (calls waiting for a stream, Envoy's upstream_rq_pending_active)
 */
export class GatewayMetrics {
  readonly requests: client.Counter<'route' | 'protocol' | 'code'>;
  readonly latency: client.Histogram<'route' | 'protocol'>;
  readonly limited: client.Counter<'limit'>;
  /** Retries made and refused by max_retries, as Envoy's upstream_rq_retry and upstream_rq_retry_overflow. */
  readonly retries: client.Counter<'cluster' | 'result'>;

  constructor(base: Metrics, upstreams: () => Iterable<Cluster>) {
    const registers = [base.registry];
    this.requests = new client.Counter({ name: 'coursereg_gateway_requests_total', help: 'gRPC calls through the gateway', labelNames: ['route', 'protocol', 'code'], registers });
    this.latency = new client.Histogram({
      name: 'coursereg_gateway_request_duration_seconds',
      help: 'Time from request to the end of the response',
      labelNames: ['route', 'protocol'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.limited = new client.Counter({ name: 'coursereg_gateway_rate_limited_total', help: 'Calls refused by a rate limit (or let through because the limit store failed, or over a shadow_mode limit: shadow_<descriptor>)', labelNames: ['limit'], registers });
    this.retries = new client.Counter({ name: 'coursereg_gateway_upstream_retries_total', help: 'Retries per cluster: made (retried), or not made because max_retries were under way (overflow)', labelNames: ['cluster', 'result'], registers });
    new client.Gauge({
      name: 'coursereg_gateway_upstream_circuit',
      help: 'Circuit breaker (outlier ejection) state per host',
      labelNames: ['cluster', 'host', 'state'],
      registers,
      collect() {
        for (const u of upstreams()) {
          for (const h of u.hosts) for (const s of ['closed', 'open', 'half-open']) this.set({ cluster: u.plan.name, host: h.address, state: s }, h.state === s ? 1 : 0);
        }
      },
    });
    new client.Gauge({
      name: 'coursereg_gateway_upstream_in_flight',
      help: 'Calls in flight per cluster',
      labelNames: ['cluster'],
      registers,
      collect() {
        for (const u of upstreams()) this.set({ cluster: u.plan.name }, u.inFlight);
      },
    });
    // Per host, as Envoy's upstream_cx_active and upstream_rq_pending_active.
    const perHost = (name: string, help: string, value: (h: Upstream) => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ['cluster', 'host'],
        registers,
        collect() {
          for (const u of upstreams()) for (const h of u.hosts) this.set({ cluster: u.plan.name, host: h.address }, value(h));
        },
      });
    perHost('coursereg_gateway_upstream_connections', 'Open HTTP/2 connections per host', (h) => h.pool.connections);
    perHost('coursereg_gateway_upstream_pending', 'Calls waiting for a stream per host (its connections at max_concurrent_streams and the cluster at max_connections)', (h) => h.pool.waiting);
  }

  // Label sets repeat (a few routes × protocols × codes), so each one's child is looked up once.
  private readonly children = new Map<string, { requests: client.Counter.Internal; latency: client.Histogram.Internal<'route' | 'protocol'> }>();

  observe(route: string, protocol: string, code: status, seconds: number): void {
    const key = `${route}|${protocol}|${code}`;
    let child = this.children.get(key);
    if (!child) {
      child = { requests: this.requests.labels({ route, protocol, code: status[code] ?? String(code) }), latency: this.latency.labels({ route, protocol }) };
      this.children.set(key, child);
    }
    child.requests.inc();
    child.latency.observe(seconds);
  }
}
