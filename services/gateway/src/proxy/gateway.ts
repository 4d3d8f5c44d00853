import { status } from '@grpc/grpc-js';
import { constants as h2, type IncomingHttpHeaders } from 'node:http2';
import type { Principal, TokenVerifier } from '../../../shared/src/auth';
import { AppError, encodeStatusDetails, resourceExhausted, unauthenticated, unavailable } from '../../../shared/src/errors';
import type { Logger } from '../../../shared/src/logger';
import { streamDurationMs, type CorsPlan, type GatewayPlan, type RoutePlan } from '../envoy/plan';
import type { GlobalRateLimits, LimitHeaders, LimitOutcome, LocalTokenBucket } from '../limits/rate-limits';
import { BodyIdle, BodyTooLarge, type Downstream } from './downstream';
import { answerProtocol, Base64Chunker, decodeTextBody, GRPC_WEB_CONTENT_TYPES, grpcStatusForHttp, isGrpcContentType, parseGrpcTimeout, protocolOf, responseContentType, trailerFrame, type Protocol } from './grpc-web';
import { cancelAttempt, isGatewayError, UpstreamCancelled, UpstreamDeadlinePassed, UpstreamFailure, UpstreamRefused, UpstreamTimeout, type Cluster, type UpstreamRequest, type UpstreamResponse } from './upstream';
import type { GatewayMetrics } from './metrics';

/** Handles requests the gRPC routes do not: static files, development sign-in. */
export type PlainHandler = (ds: Downstream, corsHeaders: Readonly<Record<string, string>>) => Promise<void> | void;

export interface GatewayDeps {
  plan: GatewayPlan;
  upstreams: Map<string, Cluster>;
  verifier?: TokenVerifier;
  globalLimits?: GlobalRateLimits;
  localLimits: Map<string, LocalTokenBucket>;
  /** Non-gRPC clusters served in-process (the web client's files). */
  plainClusters: Map<string, PlainHandler>;
  /** Paths the gateway answers itself before routing (/dev/...). */
  own?: { prefix: string; handler: PlainHandler };
  maxRequestBytes: number;
  metrics: GatewayMetrics;
  log: Logger;
}

// Headers that describe one hop, or that the gateway sets itself, never copied across.
const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'host',
  'content-length',
  'content-type',
  'accept',
  'accept-encoding',
  'accept-language',
  'origin',
  'referer',
  'cookie',
  'x-grpc-web',
  'x-user-agent',
  'http2-settings',
  'pragma',
  'cache-control',
  'priority',
]);

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The longest delay a Node timer takes (2^31-1 ms, about 24.8 days); a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

const HTTP_STATUS_FOR: Partial<Record<status, number>> = {
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.UNAVAILABLE]: 503,
  [status.UNIMPLEMENTED]: 404,
  [status.DEADLINE_EXCEEDED]: 504,
};

/** A refusal Envoy sends as a plain HTTP local reply, which its grpc_web filter turns into a headers-only answer with that HTTP status. */
class LocalReply extends AppError {
  constructor(
    readonly httpStatus: number,
    code: status,
    reason: string,
    message: string,
  ) {
    super(code, reason, message);
  }
}

/** The status of a call whose deadline (the caller's or the router's) has passed. */
function deadlineExceeded(message: string): AppError {
  return new AppError(status.DEADLINE_EXCEEDED, 'DEADLINE_EXCEEDED', message);
}

/** `work`, or DEADLINE_EXCEEDED if the call's `deadline` (ms since the epoch) passes first. */
function beforeDeadline<T>(work: Promise<T>, deadline: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(deadlineExceeded('the deadline passed before the whole request arrived')), Math.max(0, deadline - Date.now()));
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The status of a call whose caller left before its answer: nothing more is done or sent for it. */
function callerGone(): AppError {
  return new AppError(status.CANCELLED, 'CANCELLED', 'the caller went away');
}

/** Percent-encodes a grpc-message value as the gRPC spec asks. */
function encodeGrpcMessage(message: string): string {
  return Buffer.from(message, 'utf8').reduce((s, b) => s + (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`), '');
}

function originAllowed(cors: CorsPlan | undefined, origin: string | undefined): boolean {
  if (!cors || !origin) return false;
  return cors.origins.some((matches) => matches(origin));
}

/**
 * The first route whose match holds for the request, as Envoy's router picks it: the path
 * (prefix, path or safe_regex), then `grpc` (native gRPC only: Envoy picks the route before
 * the grpc_web filter rewrites a gRPC-web content-type) and `headers`.
 */
export function matchRoute(routes: RoutePlan[], path: string, headers: Record<string, string>): RoutePlan | undefined {
  for (const r of routes) {
    if (!(r.prefix !== undefined ? path.startsWith(r.prefix) : r.path !== undefined ? path === r.path : r.regex!.test(path))) continue;
    if (r.grpcOnly && !isGrpcContentType(headers['content-type'])) continue;
    if (r.headers && !r.headers.every((h) => h.test(headers[h.name]))) continue;
    return r;
  }
  return undefined;
}

/**
 * The gateway's request pipeline, in envoy.yaml's filter order: CORS, JWT
 * authentication, local token bucket, global rate limits, then the router with
 * timeouts, retries and the upstream's circuit breaker. gRPC-web is translated
 * to native gRPC on the way in and back on the way out.
 */
export function createGateway(deps: GatewayDeps) {
  const { plan, log, metrics } = deps;
  const jwt = plan.jwt;
  const active = new Set<ActiveCall>();

  /** The CORS headers for this caller's Origin; shared and frozen when there are none, so copy before adding. */
  function corsHeadersFor(ds: Downstream): Readonly<Record<string, string>> {
    const origin = ds.headers.origin;
    if (!plan.cors || !originAllowed(plan.cors, origin)) return NO_HEADERS;
    const h: Record<string, string> = { 'access-control-allow-origin': origin, vary: 'origin' };
    if (plan.cors.exposeHeaders) h['access-control-expose-headers'] = plan.cors.exposeHeaders;
    return h;
  }

  function jwtRequired(path: string): boolean {
    if (!jwt) return false;
    for (const r of jwt.rules) if (r.prefix !== undefined ? path.startsWith(r.prefix) : r.path === path) return r.requires;
    return false;
  }

  /** The caller's principal; a token seen before is answered from the verifier's cache without a promise. */
  function authenticate(ds: Downstream): Principal | Promise<Principal> {
    const raw = ds.headers[jwt!.headerName];
    if (!raw) throw unauthenticated('TOKEN_MISSING', 'a bearer token is required');
    if (!raw.startsWith(jwt!.valuePrefix)) throw unauthenticated('TOKEN_INVALID', `the ${jwt!.headerName} header must be "${jwt!.valuePrefix}<token>"`);
    const token = raw.slice(jwt!.valuePrefix.length).trim();
    return deps.verifier!.cached(token) ?? deps.verifier!.verify(token);
  }

  /** Answers with a gRPC status the gateway produced itself (trailers-only), encoded as `answer` (see answerProtocol). */
  function sendStatus(ds: Downstream, answer: Protocol, contentType: string, err: AppError, extra: Record<string, string> = {}): void {
    if (ds.closed || ds.headersSent) return;
    const headers: Record<string, string> = {
      'content-type': responseContentType(answer, contentType),
      'grpc-status': String(err.code),
      'grpc-message': encodeGrpcMessage(err.message),
      'grpc-status-details-bin': encodeStatusDetails(err).toString('base64').replace(/=+$/, ''),
      ...extra,
      ...(answer === 'grpc' ? {} : corsHeadersFor(ds)),
    };
    if (err.retryDelayMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryDelayMs / 1000)));
    // gRPC-web callers see a meaningful HTTP status (429 over a limit, 401 without a token);
    // native gRPC requires 200 with the status in the headers.
    const httpStatus = answer === 'grpc' ? 200 : err instanceof LocalReply ? err.httpStatus : (HTTP_STATUS_FOR[err.code] ?? 200);
    ds.sendHeaders(httpStatus, headers, { endStream: true });
  }

  async function handle(ds: Downstream): Promise<void> {
    const started = performance.now();
    const contentType = ds.headers['content-type'] ?? '';
    const protocol = protocolOf(contentType);

    // CORS preflight is answered here, before authentication, as Envoy's cors filter does.
    if (ds.method === 'OPTIONS' && ds.headers['access-control-request-method']) {
      const cors = corsHeadersFor(ds);
      if (!cors['access-control-allow-origin']) {
        ds.sendHeaders(403, { 'content-type': 'text/plain' });
        ds.write('origin not allowed');
        ds.end();
        return;
      }
      ds.sendHeaders(200, {
        ...cors,
        'access-control-allow-methods': plan.cors!.allowMethods,
        'access-control-allow-headers': plan.cors!.allowHeaders,
        'access-control-max-age': plan.cors!.maxAge,
        'content-length': '0',
      }, { endStream: true });
      return;
    }

    if (!protocol && deps.own && ds.path.startsWith(deps.own.prefix)) {
      await deps.own.handler(ds, corsHeadersFor(ds));
      return;
    }

    const route = matchRoute(plan.routes, ds.path, ds.headers);
    if (!protocol) {
      const plain = route ? deps.plainClusters.get(route.cluster) : undefined;
      if (plain) {
        const extra = await plainRateLimit(ds, route!);
        if (extra) await plain(ds, extra);
      } else if (contentType.startsWith('application/grpc')) {
        // Looks like gRPC but is none of the types Envoy's grpc_web filter translates (say,
        // application/grpc-web+json): refused plainly rather than sent on as something else.
        ds.sendHeaders(415, { 'content-type': 'text/plain; charset=utf-8', ...corsHeadersFor(ds) });
        ds.end(undefined, `content-type ${contentType} is neither gRPC nor one of the gRPC-web types: ${GRPC_WEB_CONTENT_TYPES.join(', ')}`);
      } else {
        ds.sendHeaders(404, { 'content-type': 'text/plain' });
        ds.write('not found');
        ds.end();
      }
      return;
    }

    const routeName = route?.name ?? 'none';
    let code = status.OK;
    const call: ActiveCall = { ds, protocol, answer: answerProtocol(protocol, ds.headers.accept), contentType };
    active.add(call);
    try {
      code = await forward(call, route);
    } catch (err) {
      const appErr = err instanceof AppError ? err : new AppError(status.INTERNAL, 'GATEWAY_INTERNAL', 'the gateway failed to handle the call');
      if (!(err instanceof AppError)) log.error({ err: (err as Error).message, path: ds.path }, 'gateway error');
      code = appErr.code;
      sendStatus(ds, call.answer, contentType, appErr);
    } finally {
      active.delete(call);
      const seconds = (performance.now() - started) / 1000;
      metrics.observe(routeName, protocol, code, seconds);
      if (plan.listener.accessLog && log.isLevelEnabled('info')) {
        log.info({ method: ds.method, path: ds.path, protocol, route: routeName, grpcStatus: status[code] ?? code, durationMs: Math.round(seconds * 10_000) / 10, remote: ds.remoteAddress, userAgent: ds.headers['user-agent'] }, 'access');
      }
    }
  }

  /**
   * Envoy's rate limit filter runs on every request, the web client's files included: their
   * route has no rate_limits of its own, so the virtual host's apply, and without a token
   * only the per-address descriptor is made. Returns the headers the answer carries (CORS
   * and x-ratelimit-*), or undefined when the request was refused here.
   */
  async function plainRateLimit(ds: Downstream, route: RoutePlan): Promise<Readonly<Record<string, string>> | undefined> {
    const cors = corsHeadersFor(ds);
    if (!deps.globalLimits || route.rateLimitActions.length === 0) return cors;
    const outcome = await deps.globalLimits.check(route, { remoteAddress: ds.remoteAddress, jwtPayload: undefined });
    countLimitOutcome(outcome);
    const headers: Record<string, string> = { ...cors, ...(outcome.headers ?? {}) };
    if (outcome.failedClosed || outcome.limited) {
      if (outcome.limited) headers['x-envoy-ratelimited'] = 'true';
      ds.sendHeaders(outcome.failedClosed ? plan.rateLimit!.statusOnError : 429, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      ds.end(undefined, outcome.failedClosed ? 'the rate limit service could not be reached' : 'too many requests from this network address');
      return undefined;
    }
    return headers;
  }

  /** Counts a global limit check that refused the request, or that failed open or closed. */
  function countLimitOutcome(outcome: LimitOutcome): void {
    if (outcome.shadowLimited) deps.metrics.limited.inc({ limit: `shadow_${outcome.shadowLimited}` });
    if (outcome.failedOpen) deps.metrics.limited.inc({ limit: 'store_failed_open' });
    else if (outcome.failedClosed) deps.metrics.limited.inc({ limit: 'store_failed_closed' });
    else if (outcome.limited) deps.metrics.limited.inc({ limit: outcome.limited.descriptor });
  }

  /** Runs the filters and the router for one gRPC call; returns the final gRPC status code. */
  async function forward(call: ActiveCall, route: RoutePlan | undefined): Promise<status> {
    const { ds, protocol, contentType } = call;
    if (!route) throw new AppError(status.UNIMPLEMENTED, 'ROUTE_NOT_FOUND', `no route for ${ds.path}`);
    if (ds.method !== 'POST') throw new AppError(status.UNIMPLEMENTED, 'METHOD_NOT_ALLOWED', 'gRPC calls use POST');
    const upstream = deps.upstreams.get(route.cluster);
    if (!upstream) throw new AppError(status.UNIMPLEMENTED, 'ROUTE_NOT_FOUND', `no upstream for ${route.cluster}`);
    // The stream's own limit (max_stream_duration: mostly the caller's grpc-timeout), counted
    // from the call's start, as Envoy's connection manager counts it. grpc-timeout reaches
    // 99999999 hours; the timers below cannot hold more than MAX_TIMER_MS.
    const streamMs = streamDurationMs(route.streamDuration, parseGrpcTimeout(ds.headers['grpc-timeout']));
    const streamDeadline = streamMs === undefined ? 0 : Date.now() + Math.min(streamMs, MAX_TIMER_MS);

    let principal: Principal | undefined;
    if (jwtRequired(ds.path)) {
      const p = authenticate(ds);
      principal = p instanceof Promise ? await p : p;
    }

    const bucket = deps.localLimits.get(route.name);
    if (bucket) {
      const wait = bucket.take();
      if (wait !== undefined) {
        deps.metrics.limited.inc({ limit: 'local' });
        throw resourceExhausted('LOCAL_RATE_LIMITED', 'the gateway is at its request limit for this route; try again shortly', wait);
      }
    }

    let limitHeaders: LimitHeaders | undefined;
    if (deps.globalLimits) {
      const outcome = await deps.globalLimits.check(route, {
        remoteAddress: ds.remoteAddress,
        jwtPayload: principal ? { sub: principal.subject, role: principal.role } : undefined,
      });
      countLimitOutcome(outcome);
      if (outcome.failedClosed) {
        // failure_mode_deny: Envoy answers status_on_error (500 unless the file says otherwise).
        throw new AppError(grpcStatusForHttp(plan.rateLimit!.statusOnError), 'RATE_LIMIT_SERVICE_ERROR', 'the rate limit service could not be reached; try again shortly', {}, [], 1000);
      }
      limitHeaders = outcome.headers;
      if (outcome.limited) {
        const who = outcome.limited.descriptor === 'student' ? 'this account' : outcome.limited.descriptor === 'remote_address' ? 'this network address' : outcome.limited.descriptor;
        const err = new AppError(status.RESOURCE_EXHAUSTED, 'RATE_LIMITED', `too many requests from ${who}; try again in ${Math.max(1, Math.ceil(outcome.limited.retryAfterMs / 1000))} s`, { descriptor: outcome.limited.descriptor, limit: String(outcome.limited.limit) }, [], outcome.limited.retryAfterMs);
        // x-envoy-ratelimited marks a refusal by the rate limit service, as Envoy's filter marks it.
        sendStatus(ds, call.answer, contentType, err, { ...(limitHeaders ?? {}), 'x-envoy-ratelimited': 'true' });
        return err.code;
      }
    }

    // Gone while its token or limits were checked: nothing is sent on for it.
    if (ds.closed) throw callerGone();
    let body: Buffer;
    try {
      if (ds.bodyArrived) {
        body = await ds.readBody(deps.maxRequestBytes);
      } else {
        // A body still to come is bounded as Envoy bounds it: by the stream's limit, which runs
        // from the call's start (max_stream_duration), and by the idle timeout.
        const reading = ds.readBody(deps.maxRequestBytes, idleTimeoutMs(route, streamDeadline));
        body = streamDeadline > 0 ? await beforeDeadline(reading, streamDeadline) : await reading;
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof BodyIdle) throw deadlineExceeded('the request body stopped coming (idle timeout)');
      if (err instanceof BodyTooLarge) throw new AppError(status.RESOURCE_EXHAUSTED, 'REQUEST_TOO_LARGE', err.message);
      throw callerGone();
    }
    if (protocol === 'grpc-web-text') {
      const decoded = decodeTextBody(body);
      if (!decoded) throw new LocalReply(400, status.INTERNAL, 'BAD_GRPC_WEB_TEXT', 'Bad gRPC-web request, invalid base64 data.');
      body = decoded;
    }

    // The call's deadline is the earlier of two clocks, which Envoy keeps apart:
    // - the stream's limit (above), enforced by Envoy's connection manager: when it passes, the
    //   caller gets DEADLINE_EXCEEDED and outlier detection hears nothing, so a caller's short
    //   grpc-timeout cannot eject a host;
    // - the router's timeout (route `timeout`, on routes without max_stream_duration), from the
    //   end of the request, which Envoy counts against the host, like per_try_timeout.
    const routeDeadline = route.timeoutMs > 0 ? Date.now() + Math.min(route.timeoutMs, MAX_TIMER_MS) : 0;
    const callers = streamDeadline > 0 && (routeDeadline === 0 || streamDeadline <= routeDeadline);
    const deadline = callers ? streamDeadline : routeDeadline;

    // The upstream request's headers, pseudo-headers first, handed to http2 as they are. The
    // caller's grpc-timeout goes on as it came, and a call without one goes without one: Envoy's
    // router rewrites grpc-timeout only on routes without max_stream_duration that set the
    // deprecated max_grpc_timeout, which the gateway does not take. The deadline above is
    // enforced here, and a call past it is reset upstream.
    const headers: Record<string, string> = { ':method': 'POST', ':path': ds.path };
    const dropToken = jwt && !jwt.forward ? jwt.headerName : undefined;
    const inbound = ds.headers;
    for (const k in inbound) {
      if (k.charCodeAt(0) === 58 /* ':' */ || HOP_HEADERS.has(k) || k === dropToken || k.startsWith('sec-') || k.startsWith('access-control-')) continue;
      headers[k] = inbound[k];
    }
    headers['content-type'] = protocol === 'grpc' ? contentType : 'application/grpc+proto';
    headers.te = 'trailers';
    // As Envoy's grpc_web filter: a browser cannot undo a compression it did not ask for, so
    // a gRPC-web call that names no encodings accepts identity only.
    if (protocol !== 'grpc' && headers['grpc-accept-encoding'] === undefined) headers['grpc-accept-encoding'] = 'identity';
    headers['x-forwarded-for'] = ds.headers['x-forwarded-for'] ? `${ds.headers['x-forwarded-for']}, ${ds.remoteAddress}` : ds.remoteAddress;

    // A caller who goes away before the answer starts takes its upstream attempt with it
    // (the relay watches for it from then on).
    ds.onAbort(() => {
      if (call.attempt) cancelAttempt(call.attempt);
    });
    const response = await callWithRetries(call, upstream, route, headers, body, deadline, callers);
    return relay(call, upstream, response, deadline, route, limitHeaders);
  }

  /** `callersDeadline`: the deadline is the stream's limit (the caller's own), not the router's timeout. */
  async function callWithRetries(call: ActiveCall, upstream: Cluster, route: RoutePlan, headers: Record<string, string>, body: Buffer, deadline: number, callersDeadline: boolean): Promise<UpstreamResponse> {
    const retry = route.retry && route.retry.retryOn.size > 0 ? route.retry : undefined;
    const attempts = 1 + (retry?.numRetries ?? 0);
    let lastFailure: UpstreamFailure | undefined;
    // Hosts that failed this call, for retry_host_predicate previous_hosts.
    const tried: number[] = [];
    // A max_retries place, held from the decision to retry until the retried attempt's outcome.
    let holdsRetry = false;
    try {
      for (let i = 0; i < attempts; i++) {
        // Gone before the first attempt, or during a back-off: nothing more is sent for it.
        if (call.ds.closed) throw callerGone();
        const left = deadline > 0 ? deadline - Date.now() : 0;
        if (deadline > 0 && left <= 0) throw deadlineExceeded('the deadline passed before the service answered');
        const perTry = retry?.perTryTimeoutMs ?? 0;
        const headersTimeoutMs = perTry > 0 ? (left > 0 ? Math.min(perTry, left) : perTry) : left;
        // Which clock the attempt's timer is: a per-try timeout counts against the host, the
        // caller's own deadline does not.
        const timeoutIsCallers = callersDeadline && left > 0 && headersTimeoutMs === left;
        const req: UpstreamRequest = { headers, body, headersTimeoutMs, waitMs: left, deadlineIsCallers: callersDeadline, timeoutIsCallers, stream: undefined };
        call.attempt = req;
        try {
          return await upstream.send(req, retry?.otherHost ? tried : undefined);
        } catch (err) {
          if (err instanceof UpstreamDeadlinePassed) throw deadlineExceeded(err.message);
          if (err instanceof UpstreamCancelled) throw callerGone();
          if (err instanceof UpstreamRefused) {
            // The breaker or a threshold refused before sending; say so plainly.
            throw new AppError(status.UNAVAILABLE, err.reason, err.message, {}, [], 1000);
          }
          if (!(err instanceof UpstreamFailure)) throw err;
          lastFailure = err;
          if (err.host !== undefined) tried.push(err.host);
        }
        // The retried attempt (if this was one) has its outcome: its max_retries place is free.
        if (holdsRetry) {
          upstream.retryDone();
          holdsRetry = false;
        }
        if (!retriable(retry?.retryOn, lastFailure!) || i + 1 >= attempts) break;
        // The call's deadline has passed (it ran out while the call waited for a stream, timed
        // the attempt out, or came as this retriable answer did): Envoy's global timeout ends
        // the call there, before any retry, so no max_retries place, no retry counted, no
        // back-off; the caller gets DEADLINE_EXCEEDED, not the answer a retry would have replaced.
        if (deadline > 0 && Date.now() >= deadline) {
          dropAnswer(lastFailure);
          throw deadlineExceeded('the deadline passed before the service answered');
        }
        // Every max_retries place is taken: no retry (Envoy's retry overflow), and the caller
        // gets this attempt's answer, as if no retry had been allowed.
        if (!upstream.takeRetry()) {
          deps.metrics.retries.inc({ cluster: upstream.plan.name, result: 'overflow' });
          break;
        }
        holdsRetry = true;
        // The retry replaces this attempt's answer, which is never relayed.
        dropAnswer(lastFailure);
        lastFailure = undefined;
        deps.metrics.retries.inc({ cluster: upstream.plan.name, result: 'retried' });
        // Envoy's fully jittered exponential back-off, cut short by the deadline (as Envoy's
        // global timeout fires during a back-off): the next round then answers DEADLINE_EXCEEDED.
        const cap = Math.min(retry!.maxIntervalMs, retry!.baseIntervalMs * 2 ** i);
        const backOff = Math.random() * cap;
        await new Promise((r) => setTimeout(r, deadline > 0 ? Math.min(backOff, Math.max(0, deadline - Date.now())) : backOff));
      }
    } finally {
      if (holdsRetry) upstream.retryDone();
    }
    if (lastFailure?.response) return lastFailure.response;
    // A timeout is the deadline's (or the per-try timeout's) doing, as when one passes mid-answer:
    // DEADLINE_EXCEEDED, as Envoy now answers, not UNAVAILABLE, which invites a retry.
    if (lastFailure instanceof UpstreamTimeout) throw deadlineExceeded(lastFailure.message);
    throw unavailable('UPSTREAM_UNAVAILABLE', lastFailure?.message ?? 'the service is unavailable');
  }

  /**
   * The idle timeout for a call with `deadline` (0: none): the route's idle_timeout, else the
   * listener's stream_idle_timeout; 0 (no timer) when it cannot end before the deadline, as
   * it would never fire.
   */
  function idleTimeoutMs(route: RoutePlan, deadline: number): number {
    const idleMs = route.idleTimeoutMs ?? plan.listener.streamIdleTimeoutMs;
    return idleMs > 0 && (deadline === 0 || idleMs < deadline - Date.now()) ? idleMs : 0;
  }

  /** Streams the upstream's answer back, translating to gRPC-web where needed. */
  function relay(call: ActiveCall, upstream: Cluster, res: UpstreamResponse, deadline: number, route: RoutePlan, limitHeaders: LimitHeaders | undefined): Promise<status> {
    const { ds, answer, contentType } = call;
    const web = answer !== 'grpc';
    const out: Record<string, string> = {};
    if (limitHeaders) Object.assign(out, limitHeaders);
    if (web && ds.headers.origin !== undefined) Object.assign(out, corsHeadersFor(ds));
    copyHeaders(res.headers, out);
    out['content-type'] = web ? responseContentType(answer, contentType) : String(res.headers['content-type'] ?? 'application/grpc');
    return new Promise((resolve) => {
      call.relay = new Relay(ds, answer, upstream.plan.name, res, out, resolve);
      call.relay.start(deadline, idleTimeoutMs(route, deadline));
    });
  }

  /**
   * Ends every gRPC call still in flight with UNAVAILABLE, so callers retry
   * elsewhere: a clean status rather than a cut connection. Used when a drain
   * outlasts its grace period.
   */
  function abortAll(message: string): void {
    for (const call of active) {
      if (call.relay) call.relay.abort(status.UNAVAILABLE, message);
      else sendStatus(call.ds, call.answer, call.contentType, unavailable('GATEWAY_SHUTTING_DOWN', message));
    }
  }

  /**
   * Ends, with UNAVAILABLE, the streams already answering (headers sent, not finished,
   * no deadline): such a stream does not end by itself within a grace period, and
   * callers reopen it elsewhere. Calls with a deadline (every unary route's timeout),
   * even those whose answer has started, are left to finish.
   */
  function abortStreams(message: string): void {
    for (const call of active) if (call.relay && call.relay.endless && call.ds.headersSent) call.relay.abort(status.UNAVAILABLE, message);
  }

  return {
    handle,
    abortAll,
    abortStreams,
    /** gRPC calls in flight. */
    get inFlight(): number {
      return active.size;
    },
  };
}

/** A gRPC call in flight; `relay` is set once the upstream has answered. */
interface ActiveCall {
  ds: Downstream;
  /** What the request speaks. */
  protocol: Protocol;
  /** How the answer is encoded: gRPC-web text only when the caller's Accept asks for it (answerProtocol). */
  answer: Protocol;
  contentType: string;
  /** The upstream attempt under way, until the answer is relayed. */
  attempt?: UpstreamRequest;
  relay?: Relay;
}

function ignore(): void {}

/**
 * Lets go of a failed attempt's answer that will not be relayed (a 5xx with a body, whose call
 * is retried or ends otherwise): its stream is reset, as Envoy resets an attempt it retries, so
 * its place in the connection and in the cluster's max_requests comes back. Unread, it would
 * hold them for good.
 */
function dropAnswer(failure: UpstreamFailure | undefined): void {
  const stream = failure?.response?.stream;
  if (!stream) return;
  if (!stream.closed) stream.close(h2.NGHTTP2_CANCEL);
  // A stream with unread body bytes is never destroyed, even once closed: drain them.
  stream.resume();
}

/** Whether the route's retry_on conditions cover this failure, as Envoy's router decides. */
function retriable(retryOn: ReadonlySet<string> | undefined, failure: UpstreamFailure): boolean {
  if (!retryOn) return false;
  switch (failure.kind) {
    case 'unavailable':
      return retryOn.has('unavailable');
    case 'http-5xx': {
      const code = Number(failure.response?.headers[':status']);
      return retryOn.has('5xx') || (retryOn.has('gateway-error') && isGatewayError(code));
    }
    case 'timeout':
      // Envoy retries a per-try timeout (not hedged) under 5xx or gateway-error only.
      return retryOn.has('5xx') || retryOn.has('gateway-error');
    case 'connect-failure':
    case 'refused-stream':
    case 'reset':
      return retryOn.has('reset') || retryOn.has('5xx') || retryOn.has('gateway-error') || retryOn.has(failure.kind);
  }
}

/**
 * One call's answer on its way back: body bytes are gathered until the end of the
 * event-loop turn, so a unary answer leaves in one write with its headers and
 * trailers, and a stream is flushed every turn. (A class, not closures: one is
 * made per call.)
 */
class Relay {
  private readonly web: boolean;
  private readonly chunker?: Base64Chunker;
  private pending: Buffer[] = [];
  private finished = false;
  private flushQueued = false;
  /** The first flush has been held once, for the end of the answer (see holdFirstFlush). */
  private waitedForEnd = false;
  private trailers?: Record<string, string>;
  private deadlineTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;

  constructor(
    private readonly ds: Downstream,
    answer: Protocol,
    private readonly cluster: string,
    private readonly res: UpstreamResponse,
    private readonly out: Record<string, string>,
    private readonly resolve: (code: status) => void,
  ) {
    this.web = answer !== 'grpc';
    if (answer === 'grpc-web-text') this.chunker = new Base64Chunker();
  }

  /** The call has no deadline (a server stream's route): it ends only when the service ends it. */
  get endless(): boolean {
    return this.deadlineTimer === undefined;
  }

  start(deadline: number, idleTimeoutMs: number): void {
    const { stream } = this.res;
    if (this.res.trailersOnly) {
      this.ds.sendHeaders(200, this.out, { endStream: true });
      stream.resume();
      this.finish(Number(this.res.headers['grpc-status']) as status);
      return;
    }
    if (deadline > 0) this.deadlineTimer = setTimeout(() => this.abort(status.DEADLINE_EXCEEDED, 'deadline exceeded at the gateway'), Math.max(0, deadline - Date.now()));
    if (idleTimeoutMs > 0) this.idleTimer = setTimeout(() => this.abort(status.DEADLINE_EXCEEDED, 'the stream was idle too long'), idleTimeoutMs);
    stream.on('error', ignore);
    this.ds.onAbort(() => {
      if (this.finished) return;
      stream.close(h2.NGHTTP2_CANCEL);
      this.finish(status.CANCELLED);
    });
    if (this.web && !isGrpcAnswer(this.res.headers)) {
      this.startPlainAnswer();
      return;
    }
    stream.on('data', (chunk: Buffer) => {
      this.idleTimer?.refresh();
      this.pending.push(chunk);
      if (!this.flushQueued) {
        this.flushQueued = true;
        endOfTurn(this);
      }
    });
    stream.on('trailers', (t: IncomingHttpHeaders) => {
      this.trailers = {};
      copyHeaders(t, this.trailers);
    });
    stream.on('end', () => {
      if (this.finished) return;
      const t = this.trailers ?? this.missingTrailers();
      this.endWith(t);
      this.finish(Number(t['grpc-status'] ?? status.UNKNOWN) as status);
    });
    stream.on('close', () => {
      if (this.finished) return;
      // Reset by the upstream before it finished.
      this.endWith({ 'grpc-status': String(status.UNAVAILABLE), 'grpc-message': encodeGrpcMessage(`the ${this.cluster} service reset the call`) });
      this.finish(status.UNAVAILABLE);
    });
  }

  /**
   * An answer that is not gRPC (an HTTP error page from something in front of the service, say)
   * cannot go to a gRPC-web caller as it is: its body is not gRPC frames. As Envoy's grpc_web
   * filter does, its body (the first PLAIN_BODY_MAX bytes) becomes the grpc-message, its HTTP
   * status gives the grpc-status, and the caller gets a headers-only answer. (The caller's
   * leaving and the stream's errors are watched by `start`.)
   */
  private startPlainAnswer(): void {
    const { stream } = this.res;
    const parts: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      this.idleTimer?.refresh();
      if (size >= PLAIN_BODY_MAX) return;
      parts.push(chunk);
      size += chunk.length;
    });
    stream.on('close', () => {
      if (this.finished) return;
      const http = Number(this.res.headers[':status']);
      const code = grpcStatusForHttp(http);
      const body = Buffer.concat(parts).subarray(0, PLAIN_BODY_MAX).toString('utf8');
      const message = body || `the ${this.cluster} service answered HTTP ${http}`;
      if (!this.ds.closed) {
        this.ds.sendHeaders(http, { ...this.out, 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message), 'content-length': '0' }, { endStream: true });
      }
      this.finish(code);
    });
  }

  /**
   * The status of an answer that ended without one: from its HTTP status when that is
   * not 200 (something in front of the service answered), as gRPC's HTTP-to-gRPC mapping
   * and Envoy do; INTERNAL otherwise.
   */
  private missingTrailers(): Record<string, string> {
    const http = Number(this.res.headers[':status']);
    if (http === 200) return { 'grpc-status': String(status.INTERNAL), 'grpc-message': 'the service ended the call without a status' };
    return { 'grpc-status': String(grpcStatusForHttp(http)), 'grpc-message': encodeGrpcMessage(`the ${this.cluster} service answered HTTP ${http}`) };
  }

  /** Runs at the end of the event-loop turn in which body bytes arrived. */
  flush(): void {
    this.flushQueued = false;
    const ds = this.ds;
    if (this.finished || ds.closed) return;
    if (!ds.headersSent && !this.waitedForEnd) {
      // A gRPC service writes a unary answer's trailers a little after its message (grpc-js
      // sends them once the message's write has completed: 0.1–0.4 ms later here). Holding
      // the first flush briefly lets most unary answers leave whole, in one write and, on
      // HTTP/1.1, with content-length instead of chunked encoding. A unary answer loses no
      // time (the caller needs the trailers anyway); a stream's first message waits at most
      // FIRST_FLUSH_HOLD_MS.
      this.waitedForEnd = true;
      this.flushQueued = true;
      holdFirstFlush(this);
      return;
    }
    if (!ds.headersSent) ds.sendHeaders(200, this.out);
    if (this.pending.length === 0) return;
    if (!ds.write(this.encode(this.take(), false))) {
      this.res.stream.pause();
      ds.onDrain(() => this.res.stream.resume());
    }
  }

  private encode(buf: Buffer, last: boolean): Buffer | string {
    const chunker = this.chunker;
    return chunker ? chunker.push(buf) + (last ? chunker.flush() : '') : buf;
  }

  private take(extra?: Buffer): Buffer {
    if (extra) this.pending.push(extra);
    const buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    return buf;
  }

  private endWith(trailers: Record<string, string>): void {
    const ds = this.ds;
    if (ds.closed) return;
    if (this.web) {
      const last = this.encode(this.take(trailerFrame(trailers)), true);
      if (!ds.headersSent) {
        this.out['content-length'] = String(typeof last === 'string' ? Buffer.byteLength(last) : last.length);
        ds.sendHeaders(200, this.out);
      }
      ds.end(undefined, last);
    } else {
      if (!ds.headersSent) ds.sendHeaders(200, this.out);
      ds.end(trailers, this.pending.length > 0 ? this.take() : undefined);
    }
  }

  /** Ends the call now with this status (trailers to the caller), cancelling the upstream stream. */
  abort(code: status, message: string): void {
    if (this.finished) return;
    this.res.stream.close(h2.NGHTTP2_CANCEL);
    this.endWith({ 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) });
    this.finish(code);
  }

  private finish(code: status): void {
    if (this.finished) return;
    this.finished = true;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.res.release();
    this.resolve(code);
  }
}

/** How much of a non-gRPC answer's body becomes a gRPC-web caller's grpc-message (Envoy's MAX_BUFFERED_PLAINTEXT_LENGTH). */
const PLAIN_BODY_MAX = 16_384;

/** A gRPC answer's headers: HTTP 200 with a gRPC content-type (Envoy's Grpc::Common::isGrpcResponseHeaders). */
function isGrpcAnswer(headers: IncomingHttpHeaders): boolean {
  return Number(headers[':status']) === 200 && isGrpcContentType(headers['content-type']);
}

// First flushes held for the end of the answer share one timer.
const FIRST_FLUSH_HOLD_MS = 2;
let held: Relay[] = [];
let heldTimer: NodeJS.Timeout | undefined;
function runHeld(): void {
  const q = held;
  held = [];
  heldTimer = undefined;
  for (const relay of q) relay.flush();
}
function holdFirstFlush(relay: Relay): void {
  held.push(relay);
  heldTimer ??= setTimeout(runHeld, FIRST_FLUSH_HOLD_MS);
}

// One setImmediate per event-loop turn runs every relay's flush queued in that turn.
let turnQueue: Relay[] = [];
function runTurnQueue(): void {
  const q = turnQueue;
  turnQueue = [];
  for (const relay of q) relay.flush();
}
function endOfTurn(relay: Relay): void {
  if (turnQueue.push(relay) === 1) setImmediate(runTurnQueue);
}

function copyHeaders(from: IncomingHttpHeaders, to: Record<string, string>): void {
  for (const k in from) {
    const v = from[k];
    if (v === undefined || k.charCodeAt(0) === 58 /* ':' */ || HOP_HEADERS.has(k)) continue;
    to[k] = typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : String(v);
  }
}
