import * as http2 from 'node:http2';
import CircuitBreaker from 'opossum';
import { isServing } from '../../../shared/src/health';
import type { Logger } from '../../../shared/src/logger';
import type { ClusterPlan } from '../envoy/plan';

/** What the upstream answered with: its headers and the stream its body and trailers arrive on. */
export interface UpstreamResponse {
  headers: http2.IncomingHttpHeaders;
  stream: http2.ClientHttp2Stream;
  /** The gRPC status came in the headers and there is no body (gRPC "trailers-only"). */
  trailersOnly: boolean;
  /** Marks the call finished for the cluster's max_requests count; safe to call more than once. */
  release(): void;
}

export interface UpstreamRequest {
  /** Request headers including `:method` and `:path`. */
  headers: Record<string, string>;
  body: Buffer;
  /** Gives up on the attempt if no response headers arrive in time (per-try timeout); 0 = no limit. */
  headersTimeoutMs: number;
}

/** The upstream could not be reached, reset the call, or answered UNAVAILABLE: an Envoy "gateway failure". */
export class UpstreamFailure extends Error {
  constructor(
    message: string,
    /** The UNAVAILABLE answer itself, when there was one, to relay if no retry helps. */
    readonly response?: UpstreamResponse,
  ) {
    super(message);
  }
}

/** The breaker is open or the cluster's max_requests is reached: the call was not attempted. */
export class UpstreamRefused extends Error {
  constructor(
    readonly reason: 'UPSTREAM_CIRCUIT_OPEN' | 'UPSTREAM_OVERLOADED',
    message: string,
  ) {
    super(message);
  }
}

const GRPC_UNAVAILABLE = '14';

/**
 * One cluster of envoy.yaml: a few long-lived HTTP/2 connections to its address,
 * a circuit breaker (opossum) standing in for outlier detection, Envoy's
 * max_requests/max_retries thresholds, and active gRPC health checks.
 *
 * Mapping from envoy.yaml: consecutive_5xx/consecutive_gateway_failure → the
 * breaker's volume threshold (it opens when at least that many calls in the
 * outlier interval failed and they are half or more of the calls); interval →
 * rolling window; base_ejection_time → how long it stays open before a trial
 * call; failed health checks (unhealthy_threshold in a row) open it at once and
 * passing ones (healthy_threshold) close it again.
 */
export class Upstream {
  readonly breaker: CircuitBreaker<[UpstreamRequest], UpstreamResponse>;
  private readonly sessions: Array<http2.ClientHttp2Session | undefined>;
  private next = 0;
  private active = 0;
  private retrying = 0;
  private healthTimer?: NodeJS.Timeout;
  private healthy = true;
  private streak = 0;
  private stopped = false;

  constructor(
    readonly plan: ClusterPlan,
    readonly address: string,
    connections: number,
    private readonly log: Logger,
  ) {
    this.sessions = new Array(Math.max(1, Math.min(connections, plan.breaker.maxConnections)));
    const outlier = plan.outlier ?? { consecutiveFailures: 5, intervalMs: 10_000, baseEjectionMs: 30_000 };
    this.breaker = new CircuitBreaker((req: UpstreamRequest) => this.attempt(req), {
      timeout: false,
      errorThresholdPercentage: 50,
      volumeThreshold: outlier.consecutiveFailures,
      rollingCountTimeout: outlier.intervalMs,
      rollingCountBuckets: 10,
      resetTimeout: outlier.baseEjectionMs,
      name: plan.name,
      // Latency percentiles and periodic snapshots are not used (the gateway keeps its own
      // latency histogram); both cost work on every call.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    });
    this.breaker.on('open', () => log.warn({ cluster: plan.name, address }, 'circuit opened: calls fail fast'));
    this.breaker.on('halfOpen', () => log.info({ cluster: plan.name }, 'circuit half-open: trying one call'));
    this.breaker.on('close', () => log.info({ cluster: plan.name }, 'circuit closed'));
  }

  get state(): 'closed' | 'open' | 'half-open' {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'half-open' : 'closed';
  }

  get inFlight(): number {
    return this.active;
  }

  /** Starts active health checks, if envoy.yaml configures them. */
  startHealthChecks(): void {
    const hc = this.plan.health;
    if (!hc) return;
    const tick = async () => {
      const ok = await isServing(this.address, hc.serviceName);
      if (this.stopped) return;
      this.streak = ok === this.healthy ? 0 : this.streak + 1;
      if (this.healthy && this.streak >= hc.unhealthyThreshold) {
        this.healthy = false;
        this.streak = 0;
        this.log.warn({ cluster: this.plan.name, address: this.address }, 'health check failing: opening the circuit');
        this.breaker.open();
      } else if (!this.healthy && this.streak >= hc.healthyThreshold) {
        this.healthy = true;
        this.streak = 0;
        this.log.info({ cluster: this.plan.name }, 'health check passing again: closing the circuit');
        this.breaker.close();
      }
      this.healthTimer = setTimeout(tick, hc.intervalMs);
      this.healthTimer.unref();
    };
    this.healthTimer = setTimeout(tick, hc.intervalMs);
    this.healthTimer.unref();
  }

  /**
   * Sends one call through the breaker. Resolves with the response headers and
   * stream; rejects with UpstreamRefused (not attempted) or UpstreamFailure.
   * The caller calls the response's `release()` when the call has finished.
   */
  async send(req: UpstreamRequest, isRetry = false): Promise<UpstreamResponse> {
    if (this.active >= this.plan.breaker.maxRequests) {
      throw new UpstreamRefused('UPSTREAM_OVERLOADED', `the ${this.plan.name} service has ${this.active} calls in flight (max_requests)`);
    }
    if (isRetry) {
      if (this.retrying >= this.plan.breaker.maxRetries) throw new UpstreamRefused('UPSTREAM_OVERLOADED', `too many retries in flight to the ${this.plan.name} service (max_retries)`);
      this.retrying++;
    }
    this.active++;
    try {
      const res = await this.breaker.fire(req);
      let released = false;
      res.release = () => {
        if (released) return;
        released = true;
        this.active--;
      };
      return res;
    } catch (err) {
      this.active--;
      if (err instanceof UpstreamFailure) throw err;
      if ((err as { code?: string }).code === 'EOPENBREAKER') {
        throw new UpstreamRefused('UPSTREAM_CIRCUIT_OPEN', `the ${this.plan.name} service is failing; calls are refused until it recovers`);
      }
      throw new UpstreamFailure((err as Error).message);
    } finally {
      if (isRetry) this.retrying--;
    }
  }

  close(): void {
    this.stopped = true;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.breaker.shutdown();
    for (const s of this.sessions) s?.close();
  }

  private session(): http2.ClientHttp2Session {
    const i = this.next++ % this.sessions.length;
    const existing = this.sessions[i];
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const session = http2.connect(`http://${this.address}`, { settings: { enablePush: false } });
    const connectTimer = setTimeout(() => {
      if (!session.connecting) return;
      session.destroy(new Error(`connect timeout after ${this.plan.connectTimeoutMs} ms`));
    }, this.plan.connectTimeoutMs);
    session.once('connect', () => clearTimeout(connectTimer));
    const forget = () => {
      clearTimeout(connectTimer);
      if (this.sessions[i] === session) this.sessions[i] = undefined;
    };
    session.on('error', (err) => {
      this.log.debug({ cluster: this.plan.name, err: err.message }, 'upstream connection error');
      forget();
    });
    session.on('goaway', forget);
    session.on('close', forget);
    session.unref();
    this.sessions[i] = session;
    return session;
  }

  private attempt(req: UpstreamRequest): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session().request(req.headers, { endStream: false });
      } catch (err) {
        reject(new UpstreamFailure(`cannot reach the ${this.plan.name} service at ${this.address}: ${(err as Error).message}`));
        return;
      }
      let settled = false;
      const timer =
        req.headersTimeoutMs > 0
          ? setTimeout(() => {
              if (settled) return;
              settled = true;
              stream.close(http2.constants.NGHTTP2_CANCEL);
              reject(new UpstreamFailure(`no answer from the ${this.plan.name} service within ${req.headersTimeoutMs} ms`));
            }, req.headersTimeoutMs)
          : undefined;
      stream.on('response', (headers) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        const trailersOnly = headers['grpc-status'] !== undefined;
        // Counted as finished already when it is a failure; `send` replaces release on success.
        const response: UpstreamResponse = { headers, stream, trailersOnly, release: () => undefined };
        if (trailersOnly && String(headers['grpc-status']) === GRPC_UNAVAILABLE) {
          reject(new UpstreamFailure(`the ${this.plan.name} service answered UNAVAILABLE`, response));
          return;
        }
        resolve(response);
      });
      stream.on('error', (err) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        reject(new UpstreamFailure(`cannot reach the ${this.plan.name} service at ${this.address}: ${err.message}`));
      });
      stream.on('close', () => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        reject(new UpstreamFailure(`the ${this.plan.name} service at ${this.address} closed the call (code ${stream.rstCode})`));
      });
      stream.end(req.body);
    });
  }
}
