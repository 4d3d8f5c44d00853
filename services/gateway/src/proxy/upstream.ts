import * as http2 from 'node:http2';
import CircuitBreaker from 'opossum';
import { HealthChecker } from '../../../shared/src/health';
import type { Logger } from '../../../shared/src/logger';
import { ENVOY_HTTP2_DEFAULTS, healthCheckIntervalMs, type ClusterPlan, type Http2Options, type OutlierCount } from '../envoy/plan';

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
  /**
   * How long the call may wait for a free stream: what is left of its deadline; 0 = no limit.
   * As in Envoy, the per-try timeout starts only once the call has its stream.
   */
  waitMs: number;
  /**
   * The call's deadline (`waitMs`) is the caller's own: the stream's max duration, mostly its
   * grpc-timeout, which Envoy's connection manager enforces without telling outlier
   * detection. Otherwise it is the router's timeout, which counts against the host.
   */
  deadlineIsCallers?: boolean;
  /** `headersTimeoutMs` is that caller's deadline rather than a per-try timeout: see {@link UpstreamDeadlinePassed}. */
  timeoutIsCallers?: boolean;
  /** Set by {@link cancelAttempt}: the caller has gone away. */
  cancelled?: boolean;
  /** The attempt's stream, once it has one (for {@link cancelAttempt}). */
  stream?: http2.ClientHttp2Stream;
  /** Takes the call out of its host's queue while it waits for a stream (for {@link cancelAttempt}). */
  leaveQueue?: () => void;
  /**
   * Set while the attempt is an ejected host's trial call (for {@link cancelAttempt}): its
   * caller leaving does not reset it, because the host's answer decides whether it is back.
   */
  keepForVerdict?: () => void;
}

/** The caller went away and the attempt was given up ({@link cancelAttempt}): nothing to say about the host. */
export class UpstreamCancelled extends Error {}

/**
 * The caller's own deadline passed before the answer came, and the attempt was given up. As
 * when Envoy's connection manager ends a stream at its max duration, this says nothing about
 * the host: the breaker treats it as a call its caller gave up. The caller gets
 * DEADLINE_EXCEEDED.
 */
export class UpstreamDeadlinePassed extends UpstreamCancelled {}

/**
 * The caller has gone away before the upstream answered: gives the attempt up, as Envoy
 * resets the upstream request when the downstream one is reset. A call waiting for a
 * stream leaves the queue (and its place in max_pending_requests); a sent one has its
 * stream reset. The attempt then fails with UpstreamCancelled, which the breaker does
 * not count against the host. An ejected host's trial call is the exception: it is
 * followed until its answer's headers, which decide whether the host is back, and only
 * then reset (see {@link Upstream}); its caller still gets UpstreamCancelled.
 */
export function cancelAttempt(req: UpstreamRequest): void {
  if (req.cancelled) return;
  req.cancelled = true;
  if (req.keepForVerdict) req.keepForVerdict();
  else if (req.stream) req.stream.close(http2.constants.NGHTTP2_CANCEL);
  else req.leaveQueue?.();
}

/**
 * How an attempt failed, in the terms of Envoy's retry_on conditions:
 * - `unavailable`: a trailers-only answer with grpc-status UNAVAILABLE (retry_on `unavailable`);
 * - `http-5xx`: an answer with an HTTP 5xx status, from something in front of the service (`5xx`, and `gateway-error` for 502–504);
 * - `connect-failure`: no connection to the host (`connect-failure`);
 * - `refused-stream`: the host refused the stream, so it never saw the call (`refused-stream`);
 * - `reset`: the stream or its connection ended before any answer (`reset`);
 * - `timeout`: no answer within the attempt's time (`5xx` and `gateway-error` retry a per-try timeout).
 * Envoy's `reset`, `5xx` and `gateway-error` also cover connection failures and refused streams.
 */
export type FailureKind = 'unavailable' | 'http-5xx' | 'connect-failure' | 'refused-stream' | 'reset' | 'timeout';

/** The upstream could not be reached, reset the call, did not answer in time, or answered UNAVAILABLE or an HTTP 5xx (see FailureKind). */
export class UpstreamFailure extends Error {
  /** Which host of the cluster failed (its index), when one was tried. */
  host?: number;

  constructor(
    message: string,
    readonly kind: FailureKind,
    /** The failed answer itself, when there was one, to relay if no retry helps. */
    readonly response?: UpstreamResponse,
  ) {
    super(message);
  }
}

/** No response headers came within the attempt's time: the per-try timeout, or what was left of the router's timeout, also while waiting for a stream (the caller's own deadline is {@link UpstreamDeadlinePassed}). */
export class UpstreamTimeout extends UpstreamFailure {
  constructor(message: string) {
    super(message, 'timeout');
  }
}

/** Error codes of a connection that never came up, as opposed to a reset of the stream itself. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * An answer the caller gets as it is, which still counts against the host, as Envoy's outlier
 * detection counts it: a trailers-only grpc-status that Envoy maps to an HTTP 5xx, other than
 * UNAVAILABLE (an {@link UpstreamFailure}). The breaker sees it as a failure; the cluster hands
 * the response on.
 */
export class CountedAnswer extends Error {
  constructor(readonly response: UpstreamResponse) {
    super(`answered grpc-status ${String(response.headers['grpc-status'])}`);
  }
}

/** Envoy's gateway errors (Http::CodeUtility::isGatewayError): 502, 503 and 504. */
export function isGatewayError(http: number): boolean {
  return http >= 502 && http <= 504;
}

/** Envoy's HTTP status for a gRPC status (Grpc::Utility::grpcToHttpStatus), where it is a 5xx: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, and any status past UNAUTHENTICATED. */
function http5xxForGrpcStatus(code: number): number | undefined {
  switch (code) {
    case 4:
      return 504;
    case 12:
      return 501;
    case 14:
      return 503;
    case 2:
    case 13:
    case 15:
      return 500;
    default:
      return code > 16 ? 500 : undefined;
  }
}

/** The breaker is open, or the cluster's max_requests or max_pending_requests is reached: the call was not attempted. */
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
 * The cluster-wide counts behind envoy.yaml's circuit_breakers thresholds, shared by
 * the cluster's hosts as Envoy's resource manager is: open upstream streams
 * (max_requests), calls waiting for a stream (max_pending_requests) and open
 * connections (max_connections).
 */
export class ClusterResources {
  requests = 0;
  pending = 0;
  connections = 0;
  /** The cluster has opened a connection for calls (Envoy's upstream_cx_total in use): health checks leave their no-traffic intervals. */
  hadTraffic = false;
  /** The cluster's hosts: when a connection closes, one whose calls wait for max_connections may open another. */
  readonly hosts: Upstream[] = [];

  constructor(readonly limits: ClusterPlan['breaker']) {}
}

/** Lets every host of the cluster hand out streams it can now open (a named function, as below). */
function wakeHosts(r: ClusterResources): void {
  for (const h of r.hosts) h.serveWaiting();
}

/** A response's release before the cluster counts it (a named function: tsx would name an inline arrow on every call). */
function noRelease(): void {}

/**
 * One host of a cluster: a few long-lived HTTP/2 connections to its address, a
 * circuit breaker (opossum) standing in for Envoy's outlier detection of that
 * host, and active gRPC health checks. {@link Cluster} spreads calls over its
 * hosts and holds max_retries; the other thresholds are counted in the {@link ClusterResources} the hosts share.
 *
 * Mapping from envoy.yaml: the enforced consecutive_5xx or consecutive_gateway_failure → how
 * many counted failures in a row open it; which of the two is enforced → which failures
 * count (see OutlierCount; the others count as successes and start the count again);
 * base_ejection_time → how long it stays open before a trial call; failed health checks
 * (unhealthy_threshold in a row) open it at once and passing ones (healthy_threshold) close
 * it again. Without outlier_detection no call ejects the host, as in Envoy; health checks
 * still do.
 */
export class Upstream {
  readonly breaker: CircuitBreaker<[UpstreamRequest], UpstreamResponse>;
  /**
   * Connections to this host. The first `kept` (GATEWAY_UPSTREAM_CONNECTIONS) take calls in
   * turn; when every one carries the cluster's max_concurrent_streams, another is opened
   * while the cluster has fewer than max_connections, as Envoy's connection pool does. Any
   * of them closes after the cluster's idle_timeout without a call, and is opened again
   * when a call needs it.
   */
  private readonly sessions: Array<http2.ClientHttp2Session | undefined>;
  private readonly kept: number;
  /** Streams open on each connection (by index in `sessions`). */
  private readonly streams: number[];
  /** When each connection last had no stream open (performance.now()). */
  private readonly idleSince: number[];
  private idleTimer?: NodeJS.Timeout;
  /** Calls waiting for a stream, oldest first: Envoy's pending requests, up to max_pending_requests. */
  private readonly waiting: Waiter[] = [];
  private readonly maxStreams: number;
  /** The cluster's http2_protocol_options (Envoy's defaults where envoy.yaml is silent). */
  private readonly h2: Http2Options;
  private next = 0;
  private healthTimer?: NodeJS.Timeout;
  private checker?: HealthChecker;
  private healthy = true;
  private streak = 0;
  private stopped = false;
  /** Which failed calls count towards ejecting the host (from outlier_detection). */
  private readonly ejectOn: OutlierCount;
  /** Counted failures in a row since the last answer that did not count. */
  private consecutive = 0;
  /**
   * Envoy's eject_time_backoff: the next ejection lasts this many base_ejection_times (up to
   * max_ejection_time). It grows with each ejection and shrinks by one for each outlier
   * `interval` the host then stays in.
   */
  private ejectionBackoff = 0;
  /** When the host was last taken back (performance.now()), for the shrinking; 0 while it is out. */
  private takenBackAt = 0;
  /** The back-off before a half-open trial call, which is counted as a further ejection in advance and undone if the trial does not fail. */
  private backoffBeforeTrial?: number;

  constructor(
    readonly plan: ClusterPlan,
    readonly address: string,
    connections: number,
    private readonly log: Logger,
    private readonly resources = new ClusterResources(plan.breaker),
  ) {
    resources.hosts.push(this);
    this.kept = Math.max(1, Math.min(connections, plan.breaker.maxConnections));
    this.sessions = new Array(this.kept).fill(undefined);
    this.streams = new Array(this.kept).fill(0);
    this.idleSince = new Array(this.kept).fill(0);
    if (plan.idleTimeoutMs > 0) {
      // One coarse sweep instead of a timer per connection: an idle connection closes
      // between idle_timeout and 1.25 × idle_timeout (at most a minute late).
      this.idleTimer = setInterval(() => this.closeIdle(), Math.max(10, Math.min(plan.idleTimeoutMs / 4, 60_000)));
      this.idleTimer.unref();
    }
    this.h2 = plan.http2 ?? ENVOY_HTTP2_DEFAULTS;
    this.maxStreams = Math.max(1, this.h2.maxConcurrentStreams);
    const outlier = plan.outlier;
    this.ejectOn = outlier?.ejectOn ?? 'nothing';
    // opossum runs the action while it is half-open only for the one trial call it lets through.
    this.breaker = new CircuitBreaker((req: UpstreamRequest) => this.attempt(req, this.breaker.halfOpen), {
      timeout: false,
      // Opossum's own rule (a share of the calls in its window) never opens it: failures in a
      // row do, as Envoy counts them (below), and health checks. A failed trial call of a
      // half-open breaker still opens it again, as opossum does whatever the threshold.
      volumeThreshold: Number.MAX_SAFE_INTEGER,
      rollingCountTimeout: outlier?.intervalMs ?? 10_000,
      rollingCountBuckets: 10,
      resetTimeout: outlier?.baseEjectionMs ?? 30_000,
      name: plan.name,
      // Latency percentiles and periodic snapshots are not used (the gateway keeps its own
      // latency histogram); both cost work on every call.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      // Failures the outlier detection does not count pass as successes.
      errorFilter: (err: Error) => !this.countsAgainstHost(err),
    });
    if (this.ejectOn !== 'nothing') {
      // Envoy's consecutive_5xx / consecutive_gateway_failure: the enforced number of counted
      // failures in a row ejects the host; an answer that does not count starts the count
      // again. A call its caller gave up leaves the count as it is.
      const threshold = outlier!.consecutiveFailures;
      this.breaker.on('success', (result: unknown) => {
        if (!(result instanceof UpstreamCancelled)) this.consecutive = 0;
      });
      this.breaker.on('failure', () => {
        if (++this.consecutive >= threshold && this.breaker.closed) {
          // opossum reads resetTimeout when it opens: set this ejection's length first.
          this.setEjectionMs(this.nextEjectionMs());
          this.breaker.open();
        }
      });
    }
    this.breaker.on('open', () => {
      this.consecutive = 0;
      // A failed trial call was counted as an ejection in advance (see halfOpen). A failing
      // health check opening the breaker is no ejection, so that count is undone: the host is
      // then marked unhealthy first, and no call of its own opens it while unhealthy (it gets
      // none, and in panic its calls pass the breaker by).
      if (this.backoffBeforeTrial !== undefined && !this.healthy) this.ejectionBackoff = this.backoffBeforeTrial;
      this.backoffBeforeTrial = undefined;
      log.warn({ cluster: plan.name, address }, 'circuit opened: calls fail fast');
    });
    this.breaker.on('halfOpen', () => {
      // Should the trial call fail, opossum opens the breaker again at once, reading
      // resetTimeout: that is the host's next ejection, so its longer time is set now.
      if (outlier) {
        this.backoffBeforeTrial = this.ejectionBackoff;
        this.setEjectionMs(this.nextEjectionMs());
      }
      log.info({ cluster: plan.name }, 'circuit half-open: trying one call');
    });
    this.breaker.on('close', () => {
      log.info({ cluster: plan.name }, 'circuit closed');
      // Taken back (trial call or health check): Envoy's count of consecutive failures starts
      // again, so the failures that ejected the host must not eject it again on the next one.
      this.consecutive = 0;
      if (this.backoffBeforeTrial !== undefined) this.ejectionBackoff = this.backoffBeforeTrial;
      this.backoffBeforeTrial = undefined;
      this.takenBackAt = performance.now();
    });
  }

  /**
   * How long the ejection about to start lasts, as Envoy's outlier detection works it out:
   * base_ejection_time times the back-off, which first loses one for each outlier `interval`
   * the host has been in since it was last taken back, then grows by one (while that keeps
   * under max_ejection_time plus one base); capped at max_ejection_time, plus jitter.
   */
  private nextEjectionMs(): number {
    const o = this.plan.outlier!;
    if (this.takenBackAt > 0) {
      this.ejectionBackoff = Math.max(0, this.ejectionBackoff - Math.floor((performance.now() - this.takenBackAt) / o.intervalMs));
      this.takenBackAt = 0;
    }
    if (this.ejectionBackoff * o.baseEjectionMs < o.maxEjectionMs + o.baseEjectionMs) this.ejectionBackoff++;
    const jitter = o.maxEjectionJitterMs > 0 ? Math.floor(Math.random() * (o.maxEjectionJitterMs + 1)) : 0;
    return Math.min(o.baseEjectionMs * this.ejectionBackoff, o.maxEjectionMs) + jitter;
  }

  /**
   * Sets how long the breaker's next opening lasts. opossum reads `options.resetTimeout` each
   * time it opens (its 'open' handler arms the half-open timer with it), but its type
   * declarations leave `options` out; a test of growing ejections guards this.
   */
  private setEjectionMs(ms: number): void {
    (this.breaker as unknown as { options: { resetTimeout: number } }).options.resetTimeout = ms;
  }

  /**
   * Whether a failed attempt counts towards ejecting this host. A call its caller gave up
   * says nothing about the host, except as the trial call of a half-open breaker: a trial
   * whose caller's deadline passed before the host answered failed, so the host stays ejected
   * a while longer (one whose caller left is followed to its answer instead: see
   * {@link cancelAttempt}). Otherwise, as Envoy counts for
   * the enforced detection: resets, failed connections and timeouts (Envoy's 503 and 504) and
   * UNAVAILABLE always; an HTTP 5xx or a 5xx-mapped grpc-status when every 5xx counts, and
   * only 502–504 and DEADLINE_EXCEEDED when only gateway failures do.
   */
  private countsAgainstHost(err: Error): boolean {
    if (err instanceof UpstreamCancelled) return this.breaker.halfOpen;
    if (this.ejectOn === 'nothing') return false;
    // A CountedAnswer is made only for answers that count.
    if (err instanceof UpstreamFailure && err.kind === 'http-5xx') return this.counts5xx(Number(err.response?.headers[':status']));
    return true;
  }

  /** Whether an answer with this HTTP status (or its grpc-status's 5xx) counts towards ejection. */
  private counts5xx(http: number | undefined): boolean {
    if (http === undefined || http < 500) return false;
    return this.ejectOn === 'all-5xx' || (this.ejectOn === 'gateway-failures' && isGatewayError(http));
  }

  /**
   * Whether the host is out of the cluster's rotation: ejected for failed calls (breaker open),
   * or failing its active health checks. As in Envoy, a host its health checks took out stays
   * out until they pass again, even after base_ejection_time, when the breaker alone would
   * let a trial call through.
   */
  get out(): boolean {
    return this.breaker.opened || !this.healthy;
  }

  get state(): 'closed' | 'open' | 'half-open' {
    return this.out ? 'open' : this.breaker.halfOpen ? 'half-open' : 'closed';
  }

  /**
   * Starts active health checks, if envoy.yaml configures them, as Envoy starts them: the host
   * is out of rotation until its first check, which runs at once (or within initial_jitter); a
   * first check that passes takes it in whatever healthy_threshold says (Envoy's first_check_),
   * one that fails leaves it out. Resolves once that first check has its result. Later checks
   * follow {@link healthCheckIntervalMs}.
   */
  startHealthChecks(): Promise<void> {
    const hc = this.plan.health;
    if (!hc) return Promise.resolve();
    // One connection for every check of this host, as Envoy keeps one.
    const checker = (this.checker = new HealthChecker(this.address));
    this.healthy = false;
    let first = true;
    let firstDone!: () => void;
    const firstChecked = new Promise<void>((resolve) => (firstDone = resolve));
    const tick = async () => {
      const found = await checker.probe(hc.serviceName, hc.timeoutMs);
      if (this.stopped) return firstDone();
      const ok = found === 'serving';
      if (first) {
        first = false;
        firstDone();
        if (ok) {
          this.healthy = true;
        } else {
          this.log.warn({ cluster: this.plan.name, address: this.address, found }, 'first health check failing: the host stays out of rotation');
        }
        next(ok);
        return;
      }
      this.streak = ok === this.healthy ? 0 : this.streak + 1;
      // As Envoy's health checker: only failures to reach the host wait for unhealthy_threshold;
      // a host that answers it is not serving (a service draining for shutdown says so) is
      // taken out at once.
      if (this.healthy && !ok && (found === 'failed' || this.streak >= hc.unhealthyThreshold)) {
        this.healthy = false;
        this.streak = 0;
        this.log.warn({ cluster: this.plan.name, address: this.address }, 'health check failing: opening the circuit');
        this.breaker.open();
      } else if (!this.healthy && this.streak >= hc.healthyThreshold) {
        this.healthy = true;
        this.streak = 0;
        this.log.info({ cluster: this.plan.name, address: this.address }, 'health check passing again: closing the circuit');
        this.breaker.close();
      } else if (ok && this.healthy && !this.breaker.closed && (this.plan.outlier?.unejectOnHealthCheck ?? true)) {
        // Ejected for failed calls, yet its health check passes: taken back, as Envoy's
        // successful_active_health_check_uneject_host (default true) does.
        this.log.info({ cluster: this.plan.name, address: this.address }, 'health check passing: taking the ejected host back');
        this.breaker.close();
      }
      next(ok);
    };
    const next = (passed: boolean) => {
      this.healthTimer = setTimeout(tick, healthCheckIntervalMs(hc, this.resources.hadTraffic, passed, this.healthy));
      this.healthTimer.unref();
    };
    if (hc.initialJitterMs > 0) {
      this.healthTimer = setTimeout(tick, Math.max(1, Math.floor(Math.random() * hc.initialJitterMs)));
      this.healthTimer.unref();
    } else {
      void tick();
    }
    return firstChecked;
  }

  /**
   * Sends one call through this host's breaker, once a stream is free. Resolves
   * with the response headers and stream; rejects with UpstreamFailure, with
   * UpstreamRefused when the cluster's max_requests streams are open, when
   * max_pending_requests calls already wait for a stream, or when none came free
   * within the per-try timeout, or with opossum's EOPENBREAKER error when the
   * breaker refuses it. `panic`: the cluster is in panic (see {@link Cluster}), and the
   * call goes to this host whether its breaker is open or not.
   */
  fire(req: UpstreamRequest, panic = false): Promise<UpstreamResponse> {
    if (this.waiting.length === 0 && this.findConnection() >= 0) return this.attach(req, panic);
    // Every connection carries max_concurrent_streams and the cluster has max_connections
    // open: the call waits for a stream, before the breaker, so that neither the wait nor an
    // overflow counts against the host's health.
    const r = this.resources;
    if (r.pending >= r.limits.maxPendingRequests) {
      return Promise.reject(new UpstreamRefused('UPSTREAM_OVERLOADED', `the ${this.plan.name} service has ${r.pending} calls waiting for a stream (max_pending_requests)`));
    }
    return new Promise((resolve, reject) => {
      const since = performance.now();
      r.pending++;
      const waiter: Waiter = {
        give: (go) => {
          r.pending--;
          if (waiter.timer) clearTimeout(waiter.timer);
          if (!go) {
            reject(new UpstreamFailure(`the connections to the ${this.plan.name} service are closing`, 'reset'));
            return;
          }
          // The per-try timeout starts now; the deadline kept running while the call waited.
          if (req.waitMs > 0) {
            const left = Math.max(1, req.waitMs - (performance.now() - since));
            if (req.headersTimeoutMs === 0 || req.headersTimeoutMs > left) {
              req.headersTimeoutMs = left;
              req.timeoutIsCallers = req.deadlineIsCallers;
            }
          }
          this.attach(req, panic).then(resolve, reject);
        },
      };
      req.leaveQueue = () => {
        if (this.dequeue(waiter)) reject(new UpstreamCancelled(`the caller went away while waiting for a stream to the ${this.plan.name} service`));
      };
      if (req.waitMs > 0) {
        waiter.timer = setTimeout(() => {
          if (!this.dequeue(waiter)) return;
          // The call's deadline passed in the queue: DEADLINE_EXCEEDED for the caller, nothing
          // against the host (it happens before the breaker). The caller's own deadline is
          // UpstreamDeadlinePassed, as everywhere; the router's timeout stays a timeout.
          const message = `no stream to the ${this.plan.name} service came free within the call's ${Math.round(req.waitMs)} ms (max_concurrent_streams)`;
          reject(req.deadlineIsCallers ? new UpstreamDeadlinePassed(message) : new UpstreamTimeout(message));
        }, req.waitMs);
      }
      this.waiting.push(waiter);
    });
  }

  /** Takes a call out of the queue before it has a stream (its caller left, or its deadline passed); false if it is no longer there. */
  private dequeue(waiter: Waiter): boolean {
    const k = this.waiting.indexOf(waiter);
    if (k < 0) return false;
    this.waiting.splice(k, 1);
    this.resources.pending--;
    if (waiter.timer) clearTimeout(waiter.timer);
    return true;
  }

  /**
   * Sends a call that has a stream free through the breaker. As in Envoy, max_requests
   * is checked when the call gets its stream, so calls waiting for one are counted only
   * against max_pending_requests. In panic the breaker is passed by: the call goes to the
   * host whatever its state, and its outcome does not move the breaker.
   */
  private attach(req: UpstreamRequest, panic: boolean): Promise<UpstreamResponse> {
    const r = this.resources;
    if (r.requests >= r.limits.maxRequests) {
      return Promise.reject(new UpstreamRefused('UPSTREAM_OVERLOADED', `the ${this.plan.name} service has ${r.requests} calls in flight (max_requests)`));
    }
    return panic ? this.attempt(req) : this.breaker.fire(req);
  }

  /** Open connections to this host, streams open on them, and calls waiting for a stream. */
  get pool(): { connections: number; streams: number; waiting: number } {
    let connections = 0;
    for (let i = 0; i < this.sessions.length; i++) if (this.live(i)) connections++;
    return { connections, streams: this.streams.reduce((a, b) => a + b, 0), waiting: this.waiting.length };
  }

  close(): void {
    this.stopped = true;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.checker?.close();
    this.breaker.shutdown();
    for (const s of this.sessions) s?.close();
    for (const w of this.waiting.splice(0)) w.give(false);
  }

  private live(i: number): boolean {
    const s = this.sessions[i];
    return s !== undefined && !s.closed && !s.destroyed;
  }

  /**
   * Where the next stream goes, as Envoy's pool picks it: the kept connections in turn,
   * then an extra connection with room, then a new connection while the cluster has fewer
   * than max_connections open (`sessions.length` for a new slot). -1 when none can take it.
   */
  private findConnection(): number {
    const r = this.resources;
    const canOpen = r.connections < r.limits.maxConnections;
    for (let k = 0; k < this.kept; k++) {
      const i = (this.next + k) % this.kept;
      if (this.live(i) ? this.streams[i] < this.maxStreams : canOpen) return i;
    }
    const n = this.sessions.length;
    let closed = -1;
    for (let i = this.kept; i < n; i++) {
      if (!this.live(i)) {
        if (closed < 0) closed = i;
      } else if (this.streams[i] < this.maxStreams) {
        return i;
      }
    }
    if (!canOpen) return -1;
    return closed >= 0 ? closed : n;
  }

  /** Takes the connection {@link findConnection} names; -1 when every one is full. */
  private pickConnection(): number {
    const i = this.findConnection();
    if (i < 0) return -1;
    if (i < this.kept) this.next = i + 1;
    if (i === this.sessions.length) {
      this.sessions.push(undefined);
      this.streams.push(0);
      this.idleSince.push(0);
    }
    return i;
  }

  /** A stream on connection i has ended: its place goes to the oldest waiting call. */
  private streamEnded(i: number): void {
    this.resources.requests--;
    if (--this.streams[i] === 0) this.idleSince[i] = performance.now();
    this.serveWaiting();
  }

  /**
   * Hands free streams to waiting calls, oldest first. Each takes its stream at once
   * (the breaker runs the attempt synchronously); one the breaker refuses takes none,
   * and the next waiting call gets the chance.
   */
  serveWaiting(): void {
    while (this.waiting.length > 0 && this.findConnection() >= 0) this.waiting.shift()!.give(true);
  }

  /** Closes connections that have had no stream open for the cluster's idle_timeout. */
  private closeIdle(): void {
    const cutoff = performance.now() - this.plan.idleTimeoutMs;
    for (let i = 0; i < this.sessions.length; i++) {
      const s = this.sessions[i];
      if (!s || this.streams[i] > 0 || this.idleSince[i] > cutoff || s.connecting) continue;
      this.log.debug({ cluster: this.plan.name, address: this.address }, 'closing an idle upstream connection');
      this.drop(i, s);
      s.close();
    }
  }

  /** Connection i is gone (closed, failed or going away): it no longer counts against max_connections. */
  private drop(i: number, session: http2.ClientHttp2Session): void {
    if (this.sessions[i] !== session) return;
    this.sessions[i] = undefined;
    const r = this.resources;
    r.connections--;
    // A call waiting on another host for max_connections may open a connection now.
    if (r.pending > 0) process.nextTick(wakeHosts, r);
  }

  private session(i: number): http2.ClientHttp2Session {
    const existing = this.sessions[i];
    if (existing) {
      if (!existing.closed && !existing.destroyed) return existing;
      this.drop(i, existing);
    }
    // The cluster's http2_protocol_options windows (Envoy's 256 MiB where envoy.yaml is silent).
    const session = http2.connect(`http://${this.address}`, { settings: { enablePush: false, initialWindowSize: this.h2.initialStreamWindowSize } });
    this.resources.connections++;
    this.resources.hadTraffic = true;
    this.idleSince[i] = performance.now();
    const connectTimer = setTimeout(() => {
      if (!session.connecting) return;
      session.destroy(Object.assign(new Error(`connect timeout after ${this.plan.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, this.plan.connectTimeoutMs);
    session.once('connect', () => {
      clearTimeout(connectTimer);
      if (this.h2.initialConnectionWindowSize > 65_535) session.setLocalWindowSize(this.h2.initialConnectionWindowSize);
    });
    const forget = () => {
      clearTimeout(connectTimer);
      this.drop(i, session);
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

  /** `trial`: the one call a half-open breaker lets through, whose outcome decides whether the host is back. */
  private attempt(req: UpstreamRequest, trial = false): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      // `fire` lets a call through only when a stream is free.
      const i = this.pickConnection();
      if (i < 0) reject(new UpstreamFailure(`no stream free to the ${this.plan.name} service`, 'reset'));
      else this.send(i, req, trial, resolve, reject);
    });
  }

  /** Opens the call's stream on connection i and settles the attempt with its answer. */
  private send(i: number, req: UpstreamRequest, trial: boolean, resolve: (res: UpstreamResponse) => void, reject: (err: Error) => void): void {
    let stream: http2.ClientHttp2Stream;
    try {
      // No options object: a POST keeps its stream open for the body by default, and passing one
      // (even { endStream: false }) made Node 20's request() measurably slower per call.
      stream = this.session(i).request(req.headers);
    } catch (err) {
      // The stream stays free: when this call came from `serveWaiting`, its loop hands it on.
      reject(new UpstreamFailure(`cannot reach the ${this.plan.name} service at ${this.address}: ${(err as Error).message}`, 'connect-failure'));
      return;
    }
    this.streams[i]++;
    this.resources.requests++;
    req.stream = stream;
    let settled = false;
    // No answer in time: the attempt is given up and its stream reset. `verdictWaitMs` is set
    // only for a trial call whose caller had left (see keepForVerdict below).
    const expire = (verdictWaitMs?: number) => {
      if (settled) return;
      settled = true;
      stream.close(http2.constants.NGHTTP2_CANCEL);
      if (verdictWaitMs !== undefined) {
        reject(new UpstreamTimeout(`no answer from the ${this.plan.name} service within ${verdictWaitMs} ms to a trial call whose caller had left`));
        return;
      }
      const message = `no answer from the ${this.plan.name} service within ${Math.round(req.headersTimeoutMs)} ms`;
      reject(req.timeoutIsCallers ? new UpstreamDeadlinePassed(`${message}, the call's deadline`) : new UpstreamTimeout(message));
    };
    let timer = req.headersTimeoutMs > 0 ? setTimeout(expire, req.headersTimeoutMs) : undefined;
    if (trial) {
      // The trial call of an ejected host. Should its caller leave, resetting it would leave
      // the host's recovery unproven (and count as a failed trial, a longer ejection); the call
      // is followed instead until the answer's headers give their verdict, then reset. Its own
      // timer bounds the wait; without one (a stream with no deadline), one outlier interval.
      req.keepForVerdict = () => {
        if (settled) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        if (timer) return;
        const ms = this.plan.outlier?.intervalMs ?? 10_000;
        timer = setTimeout(expire, ms, ms);
      };
    }
    stream.on('response', (headers) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      // A trial call whose caller has left: its headers are the verdict; nothing more is read.
      if (req.cancelled) stream.close(http2.constants.NGHTTP2_CANCEL);
      const trailersOnly = headers['grpc-status'] !== undefined;
      // Counted as finished already when it is a failure; `send` replaces release on success.
      const response: UpstreamResponse = { headers, stream, trailersOnly, release: noRelease };
      if (trailersOnly) {
        const grpcStatus = String(headers['grpc-status']);
        if (grpcStatus === GRPC_UNAVAILABLE) {
          reject(new UpstreamFailure(`the ${this.plan.name} service answered UNAVAILABLE`, 'unavailable', response));
          return;
        }
        // Another error the enforced outlier detection counts: relayed, but counted.
        if (this.counts5xx(http5xxForGrpcStatus(Number(grpcStatus)))) {
          reject(new CountedAnswer(response));
          return;
        }
      }
      const httpStatus = Number(headers[':status']);
      if (httpStatus >= 500) {
        reject(new UpstreamFailure(`the ${this.plan.name} service at ${this.address} answered HTTP ${httpStatus}`, 'http-5xx', response));
        return;
      }
      resolve(response);
    });
    stream.on('error', (err) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      // A stream waiting for a connection that fails is cancelled, with the connection's error as its cause.
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const cause = ((err as { cause?: NodeJS.ErrnoException }).cause)?.code ?? '';
      // Node emits `error` before `close` for a stream the service reset: REFUSED_STREAM (it
      // never processed the call) is its own kind, as Envoy's retry_on refused-stream needs.
      const kind: FailureKind = CONNECT_ERRORS.has(code) || CONNECT_ERRORS.has(cause) ? 'connect-failure' : stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM ? 'refused-stream' : 'reset';
      reject(req.cancelled && !trial ? new UpstreamCancelled('the caller went away') : new UpstreamFailure(`cannot reach the ${this.plan.name} service at ${this.address}: ${err.message}`, kind));
    });
    stream.on('close', () => {
      this.streamEnded(i);
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
      reject(req.cancelled && !trial ? new UpstreamCancelled('the caller went away') : new UpstreamFailure(`the ${this.plan.name} service at ${this.address} ${refused ? 'refused' : 'closed'} the call (code ${stream.rstCode})`, refused ? 'refused-stream' : 'reset'));
    });
    stream.end(req.body);
  }
}

/** A call waiting for a stream: `give(true)` sends it now, `give(false)` fails it (the host is closing). */
interface Waiter {
  give(go: boolean): void;
  timer?: NodeJS.Timeout;
}

/**
 * One cluster of envoy.yaml: its hosts (one Upstream each), the lb_policy that
 * picks a host per call, and the thresholds Envoy applies to the whole cluster:
 * max_retries here, max_requests, max_pending_requests and max_connections in the
 * {@link ClusterResources} its hosts share. A host that is out (ejected, in Envoy's words,
 * or failing its health checks) is not picked; a retry picks again, so it usually lands on another
 * host. When fewer hosts than the cluster's healthy_panic_threshold are in, the cluster
 * is in panic, as Envoy's load balancer is: calls go to every host, ejected or not.
 * Otherwise, when every host refuses, calls fail fast with UPSTREAM_CIRCUIT_OPEN
 * (with the threshold at 0, whenever no host is in).
 */
export class Cluster {
  readonly hosts: Upstream[];
  /** The counts behind the thresholds the hosts share: max_requests, max_pending_requests, max_connections. */
  readonly resources: ClusterResources;
  /** Calls in flight per host, for LEAST_REQUEST. */
  private readonly hostActive: number[];
  private next = 0;
  private active = 0;
  private retrying = 0;

  constructor(
    readonly plan: ClusterPlan,
    addresses: string[],
    connections: number,
    log: Logger,
    private readonly random: () => number = Math.random,
  ) {
    if (addresses.length === 0) throw new Error(`cluster ${plan.name} has no address`);
    this.resources = new ClusterResources(plan.breaker);
    this.hosts = addresses.map((a) => new Upstream(plan, a, connections, log, this.resources));
    this.hostActive = this.hosts.map(() => 0);
  }

  /** closed: every host takes calls; open: none does; partial: some hosts are ejected or on trial. */
  get state(): 'closed' | 'open' | 'partial' {
    let open = 0;
    let closed = 0;
    for (const h of this.hosts) {
      if (h.state === 'open') open++;
      else if (h.state === 'closed') closed++;
    }
    return closed === this.hosts.length ? 'closed' : open === this.hosts.length ? 'open' : 'partial';
  }

  /** Calls sent to the cluster and not yet finished, those waiting for a stream included. */
  get inFlight(): number {
    return this.active;
  }

  /** Starts every host's health checks (see {@link Upstream.startHealthChecks}); resolves once each host has had its first. */
  async startHealthChecks(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.startHealthChecks()));
  }

  /**
   * Sends one call to a host picked by the cluster's lb_policy. Resolves with the
   * response headers and stream; rejects with UpstreamRefused (not attempted) or
   * UpstreamFailure. The caller calls the response's `release()` when the call
   * has finished.
   */
  async send(req: UpstreamRequest, avoid?: readonly number[]): Promise<UpstreamResponse> {
    this.active++;
    try {
      return await this.fireOnSomeHost(req, avoid);
    } catch (err) {
      this.active--;
      if (err instanceof UpstreamFailure || err instanceof UpstreamRefused || err instanceof UpstreamCancelled) throw err;
      throw new UpstreamFailure((err as Error).message, 'reset');
    }
  }

  /**
   * Takes one of the cluster's max_retries places for a retry about to be made; false when
   * all are taken (Envoy's retry overflow: no retry, and the caller gets the last answer).
   * As in Envoy, the place is held from the decision, through the back-off and the retried
   * attempt, until that attempt's outcome is known: then {@link retryDone} gives it back.
   */
  takeRetry(): boolean {
    if (this.retrying >= this.plan.breaker.maxRetries) return false;
    this.retrying++;
    return true;
  }

  /** Gives back a place taken by {@link takeRetry}. */
  retryDone(): void {
    this.retrying--;
  }

  /** Retries under way (max_retries places taken). */
  get retriesInFlight(): number {
    return this.retrying;
  }

  close(): void {
    for (const h of this.hosts) h.close();
  }

  /**
   * Tries the picked host, then the others in turn if its breaker refuses (a
   * half-open host already on trial). Hosts in `avoid` (tried before for this
   * call) are picked only when no other host takes calls.
   */
  private async fireOnSomeHost(req: UpstreamRequest, avoid?: readonly number[]): Promise<UpstreamResponse> {
    const n = this.hosts.length;
    const panic = this.inPanic();
    const first = n === 1 ? 0 : this.pick(avoid, panic);
    for (let i = 0; i < n; i++) {
      const h = (first + i) % n;
      const host = this.hosts[h];
      if (!panic && host.out) continue;
      this.hostActive[h]++;
      let res: UpstreamResponse;
      try {
        res = await host.fire(req, panic);
      } catch (err) {
        if (err instanceof CountedAnswer) {
          // Counted against the host by its breaker; the caller gets the answer as it is.
          res = err.response;
        } else {
          this.hostActive[h]--;
          if ((err as { code?: string }).code === 'EOPENBREAKER') continue;
          // A trial call followed to its verdict after its caller left (see cancelAttempt).
          if (req.cancelled && !(err instanceof UpstreamCancelled)) throw new UpstreamCancelled('the caller went away');
          if (err instanceof UpstreamFailure) err.host = h;
          throw err;
        }
      }
      if (req.cancelled) {
        // Answered after its caller left (a trial call followed to its verdict, or an answer
        // that crossed the cancel); its stream is reset.
        this.hostActive[h]--;
        throw new UpstreamCancelled('the caller went away');
      }
      let released = false;
      res.release = () => {
        if (released) return;
        released = true;
        this.hostActive[h]--;
        this.active--;
      };
      return res;
    }
    throw new UpstreamRefused('UPSTREAM_CIRCUIT_OPEN', `the ${this.plan.name} service is failing; calls are refused until it recovers`);
  }

  /**
   * Whether fewer of the hosts than healthy_panic_threshold percent are in (not
   * {@link Upstream.out}), so that, as in Envoy's load balancer, calls go to every host. Never at 0.
   */
  private inPanic(): boolean {
    const threshold = this.plan.panicThresholdPercent;
    if (threshold <= 0) return false;
    let live = 0;
    for (const h of this.hosts) if (!h.out) live++;
    return live * 100 < threshold * this.hosts.length;
  }

  /**
   * The first host to try, by lb_policy, among hosts that are in (any host in panic) and
   * not in `avoid`; failing that, among those in; failing that, any.
   */
  private pick(avoid: readonly number[] | undefined, panic: boolean): number {
    const n = this.hosts.length;
    const open: number[] = [];
    for (let h = 0; h < n; h++) if ((panic || !this.hosts[h].out) && !avoid?.includes(h)) open.push(h);
    if (open.length === 0 && avoid?.length) for (let h = 0; h < n; h++) if (panic || !this.hosts[h].out) open.push(h);
    if (open.length === 0) return 0;
    if (this.plan.lbPolicy === 'ROUND_ROBIN') {
      // The first candidate at or after the turn, wrapping round.
      const turn = this.next % n;
      const h = open.find((c) => c >= turn) ?? open[0];
      this.next = h + 1;
      return h;
    }
    const i = Math.floor(this.random() * open.length);
    if (this.plan.lbPolicy === 'RANDOM' || open.length === 1) return open[i];
    // Envoy's LEAST_REQUEST with choice_count 2: of two different hosts drawn at random, the one with fewer calls in flight.
    let j = Math.floor(this.random() * (open.length - 1));
    if (j >= i) j++;
    const a = open[i];
    const b = open[j];
    return this.hostActive[b] < this.hostActive[a] ? b : a;
  }
}
