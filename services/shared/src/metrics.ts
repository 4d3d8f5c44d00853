import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type pg from 'pg';
import client from 'prom-client';

/**
 * Prometheus metrics of one process, served over HTTP at /metrics:
 * - coursereg_grpc_requests_total{method,code}
 * - coursereg_grpc_request_duration_seconds{method,code}
 * - coursereg_db_pool_connections{pool,state} (total, idle, waiting)
 * plus Node's default process metrics. Services add their own (queue depth, ...).
 */
export class Metrics {
  readonly registry = new client.Registry();
  readonly requests: client.Counter<'method' | 'code'>;
  readonly latency: client.Histogram<'method' | 'code'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    client.collectDefaultMetrics({ register: this.registry });
    this.requests = new client.Counter({
      name: 'coursereg_grpc_requests_total',
      help: 'gRPC calls handled, by method and status code',
      labelNames: ['method', 'code'],
      registers: [this.registry],
    });
    this.latency = new client.Histogram({
      name: 'coursereg_grpc_request_duration_seconds',
      help: 'gRPC call latency, by method and status code',
      labelNames: ['method', 'code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
  }

  /** Reports a pg Pool's connection counts on every scrape. */
  watchPool(name: string, pool: pg.Pool): void {
    new client.Gauge({
      name: 'coursereg_db_pool_connections',
      help: 'PostgreSQL pool connections by state',
      labelNames: ['pool', 'state'],
      registers: [this.registry],
      collect() {
        this.set({ pool: name, state: 'total' }, pool.totalCount);
        this.set({ pool: name, state: 'idle' }, pool.idleCount);
        this.set({ pool: name, state: 'waiting' }, pool.waitingCount);
      },
    });
  }

  /** A server interceptor that counts every call and times it to its final status. */
  interceptor(): grpc.ServerInterceptor {
    const { requests, latency } = this;
    return (methodDescriptor, call) => {
      const started = process.hrtime.bigint();
      const method = methodDescriptor.path;
      return new grpc.ServerInterceptingCall(call, {
        // A method: tsx would name an arrow here with Object.defineProperty on every call.
        sendStatus(status, next) {
          const code = grpc.status[status.code] ?? String(status.code);
          requests.inc({ method, code });
          latency.observe({ method, code }, Number(process.hrtime.bigint() - started) / 1e9);
          next(status);
        },
      });
    };
  }

  /** Serves /metrics on host:port (0 picks a free port). */
  async serve(host: string, port: number): Promise<{ server: Server; port: number }> {
    const server = createServer((req, res) => {
      if (req.url === '/metrics') {
        this.registry.metrics().then(
          (body) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(body);
          },
          (err: Error) => {
            res.writeHead(500);
            res.end(err.message);
          },
        );
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    return { server, port: (server.address() as AddressInfo).port };
  }
}
