import { readFileSync } from 'node:fs';
import { parseEnvoyYaml } from './yaml';

/**
 * What the local gateway takes from envoy/envoy.yaml and envoy/ratelimit/config.yaml:
 * the same routes, clusters, breaker thresholds, outlier detection, health checks,
 * timeouts, retries, CORS, JWT settings and rate limits Envoy runs with in
 * production. Whatever the files say that the gateway does not implement is
 * listed in `unsupported`, and the gateway names it at start-up.
 */
export interface ListenerPlan {
  name: string;
  port: number;
  /** stream_idle_timeout: a stream with no activity this long is ended (a route's idle_timeout overrides it); 0 = none. */
  streamIdleTimeoutMs: number;
  /** common_http_protocol_options.idle_timeout: a connection with no open streams this long is closed; 0 = none. */
  idleTimeoutMs: number;
  /** http2_protocol_options for HTTP/2 callers (Envoy's defaults where the file is silent). */
  http2: Http2Options;
  /** An access_log entry writes one line per request to stdout. */
  accessLog: boolean;
}

/** Envoy's http2_protocol_options that the gateway applies, on the listener and on each HTTP/2 cluster. */
export interface Http2Options {
  /** Streams one connection may carry at once. Upstream, also the most the gateway opens on one connection before it opens another. */
  maxConcurrentStreams: number;
  /** Windows as HTTP/2 can carry them: at most 2^31 - 1. */
  initialStreamWindowSize: number;
  initialConnectionWindowSize: number;
}

/** Envoy's defaults where the file is silent: no stream limit, 256 MiB windows. */
export const ENVOY_HTTP2_DEFAULTS: Readonly<Http2Options> = Object.freeze({
  maxConcurrentStreams: 2_147_483_647,
  initialStreamWindowSize: 268_435_456,
  initialConnectionWindowSize: 268_435_456,
});

/** Envoy's idle timeout for connections, downstream and upstream, where common_http_protocol_options is silent. */
const ENVOY_IDLE_TIMEOUT_MS = 3_600_000;
/** Envoy's healthy_panic_threshold when a cluster does not set one. */
const ENVOY_PANIC_THRESHOLD_PERCENT = 50;

/** common_http_protocol_options.idle_timeout in ms (Envoy's 1 h where absent); its other keys are named as not implemented. */
function commonIdleTimeoutMs(r: Reader, value: unknown, where: string): number {
  if (value === undefined) return ENVOY_IDLE_TIMEOUT_MS;
  const common = r.obj(value, where, ['idle_timeout']);
  return optionalDurationMs(common, 'idle_timeout', where, ENVOY_IDLE_TIMEOUT_MS);
}

const HTTP2_OPTION_KEYS = ['max_concurrent_streams', 'initial_stream_window_size', 'initial_connection_window_size'];

/** The largest flow-control window HTTP/2 allows (RFC 9113, 6.9.1), so the most Node can be asked for. */
const HTTP2_MAX_WINDOW = 2 ** 31 - 1;

function http2Options(o: Obj): Http2Options {
  return {
    maxConcurrentStreams: num(o.max_concurrent_streams, ENVOY_HTTP2_DEFAULTS.maxConcurrentStreams),
    initialStreamWindowSize: Math.min(num(o.initial_stream_window_size, ENVOY_HTTP2_DEFAULTS.initialStreamWindowSize), HTTP2_MAX_WINDOW),
    initialConnectionWindowSize: Math.min(num(o.initial_connection_window_size, ENVOY_HTTP2_DEFAULTS.initialConnectionWindowSize), HTTP2_MAX_WINDOW),
  };
}

export interface GatewayPlan {
  listener: ListenerPlan;
  filters: string[];
  routes: RoutePlan[];
  clusters: Map<string, ClusterPlan>;
  cors?: CorsPlan;
  jwt?: JwtPlan;
  rateLimit?: RateLimitPlan;
  unsupported: string[];
}

export interface RoutePlan {
  name: string;
  prefix?: string;
  path?: string;
  regex?: RegExp;
  /**
   * match.grpc: native gRPC only (content-type application/grpc or application/grpc+...). As in
   * Envoy, whose route is chosen before the grpc_web filter turns application/grpc-web into
   * application/grpc (envoyproxy/envoy#5914), a gRPC-web call does not match it.
   */
  grpcOnly: boolean;
  /** match.headers: every one must hold for the route to match. */
  headers?: HeaderMatch[];
  cluster: string;
  /**
   * The router's timeout (route `timeout`, 15 s unless set), from the end of the request; 0
   * means none. Its passing counts against the host, as Envoy's router reports its own
   * timeout to outlier detection. Envoy ignores `timeout` on a route with max_stream_duration
   * (the router's "new" timeouts), and so does the plan: such a route has 0 here.
   */
  timeoutMs: number;
  /** max_stream_duration: how long the whole stream may last (see {@link streamDurationMs}). */
  streamDuration?: StreamDurationPlan;
  idleTimeoutMs?: number;
  retry?: RetryPlan;
  localLimit?: TokenBucketPlan;
  rateLimitActions: RateLimitAction[][];
}

/** A route's max_stream_duration, which Envoy's connection manager enforces (not its router). */
export interface StreamDurationPlan {
  /** max_stream_duration: for a call without grpc-timeout (or without grpc_timeout_header_max); 0 or unset means none. */
  maxMs?: number;
  /** grpc_timeout_header_max: the caller's grpc-timeout is the limit, capped at this (0 = no cap). */
  grpcTimeoutHeaderMaxMs?: number;
  /** grpc_timeout_header_offset: taken off the caller's grpc-timeout, so the gateway's clock runs out before the caller's. */
  grpcTimeoutHeaderOffsetMs?: number;
}

/**
 * How long a call on a route with max_stream_duration may last, from its start, as Envoy's
 * connection manager works it out (ActiveStream::refreshDurationTimeout): the caller's
 * grpc-timeout (`askedMs`) capped at grpc_timeout_header_max, less grpc_timeout_header_offset,
 * when both the header and the cap are there; max_stream_duration otherwise. Undefined means
 * no limit; 0 means the time is already up. A grpc-timeout of 0 is taken as it stands, as
 * Envoy's connection manager takes it: the time is up at once (Envoy's router used to read
 * 0 as "no limit" and cap it, but with max_stream_duration set the router's clock is not
 * the one that runs).
 */
export function streamDurationMs(d: StreamDurationPlan | undefined, askedMs: number | undefined): number | undefined {
  if (!d) return undefined;
  if (askedMs === undefined || d.grpcTimeoutHeaderMaxMs === undefined) return d.maxMs ? d.maxMs : undefined;
  const max = d.grpcTimeoutHeaderMaxMs;
  const t = max > 0 && askedMs > max ? max : askedMs;
  if (t === 0) return 0;
  const offset = d.grpcTimeoutHeaderOffsetMs ?? 0;
  return offset < t ? t - offset : 0;
}

/** One of a route's match.headers (Envoy's HeaderMatcher): `test` runs on the header's value, or on undefined when it is absent. */
export interface HeaderMatch {
  name: string;
  test(value: string | undefined): boolean;
}

export interface RetryPlan {
  retryOn: Set<string>;
  numRetries: number;
  perTryTimeoutMs: number;
  baseIntervalMs: number;
  maxIntervalMs: number;
  /** retry_host_predicate previous_hosts: a retry goes to a host not tried yet for this call, when there is one. */
  otherHost: boolean;
}

export interface TokenBucketPlan {
  maxTokens: number;
  tokensPerFill: number;
  fillIntervalMs: number;
}

export type RateLimitAction = { kind: 'remote_address' } | { kind: 'metadata'; descriptorKey: string; filter: string; path: string[] } | { kind: 'generic_key'; descriptorKey: string; value: string };

export interface ClusterPlan {
  name: string;
  /** host:port of each lb_endpoint, as envoy.yaml names them (production DNS names). */
  addresses: string[];
  /** How a call picks its host (Envoy's lb_policy; LEAST_REQUEST is the power of two choices). */
  lbPolicy: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';
  /** The cluster speaks HTTP/2 (explicit_http_config.http2_protocol_options), with these options; absent for HTTP/1.1 clusters. */
  http2?: Http2Options;
  /** common_http_protocol_options.idle_timeout: a connection with no call on it this long is closed (Envoy's 1 h where the file is silent); 0 = never. */
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /**
   * common_lb_config.healthy_panic_threshold, in percent (Envoy's 50 where the file is silent):
   * when fewer of the cluster's hosts than this are in (not ejected, not failing health
   * checks), calls go to every host regardless; 0 never does, so calls fail fast when no host is in.
   */
  panicThresholdPercent: number;
  /** Envoy's circuit_breakers thresholds (DEFAULT priority), each counted across all of the cluster's hosts. */
  breaker: { maxConnections: number; maxPendingRequests: number; maxRequests: number; maxRetries: number };
  /**
   * outlier_detection, absent when the file has none (Envoy then ejects no host for its
   * calls). `ejectOn`, from the enforcing_consecutive_* percentages: `all-5xx` when
   * consecutive_5xx is enforced (Envoy's default), `gateway-failures` when only
   * consecutive_gateway_failure is, `nothing` when neither is; `consecutiveFailures` is
   * the enforced threshold. unejectOnHealthCheck: a passing active health check takes an
   * ejected host back (Envoy's default).
   */
  outlier?: {
    ejectOn: OutlierCount;
    consecutiveFailures: number;
    intervalMs: number;
    baseEjectionMs: number;
    /** max_ejection_time: the longest an ejection lasts, however often the host was ejected (Envoy's 300 s, or base_ejection_time if longer). */
    maxEjectionMs: number;
    /** max_ejection_time_jitter: a random part, up to this, added to each ejection. */
    maxEjectionJitterMs: number;
    unejectOnHealthCheck: boolean;
  };
  health?: HealthCheckPlan;
}

/** A cluster's active gRPC health check (its first `health_checks` entry), with Envoy's defaults filled in. */
export interface HealthCheckPlan {
  timeoutMs: number;
  intervalMs: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  serviceName: string;
  /** no_traffic_interval: between checks until the cluster has opened a connection for a call (Envoy's 60 s). */
  noTrafficIntervalMs: number;
  /** no_traffic_healthy_interval: the same, for a host that passes its checks (no_traffic_interval by default). */
  noTrafficHealthyIntervalMs: number;
  /** unhealthy_interval: after a failed check of a host that is out (interval by default). */
  unhealthyIntervalMs: number;
  /** unhealthy_edge_interval: after a failed check of a host still in, short of unhealthy_threshold (unhealthy_interval by default). */
  unhealthyEdgeIntervalMs: number;
  /** healthy_edge_interval: after a passed check of a host still out, short of healthy_threshold (interval by default). */
  healthyEdgeIntervalMs: number;
  /** interval_jitter and interval_jitter_percent: a random part added to every wait. */
  intervalJitterMs: number;
  intervalJitterPercent: number;
  /** initial_jitter: the first check waits a random part of this. */
  initialJitterMs: number;
}

/**
 * How long after a check the next one runs, as Envoy's HealthCheckerImplBase::interval works
 * it out: the no-traffic intervals until the cluster has carried a call; otherwise by the
 * check's result, with the edge intervals while a change of state waits for its threshold;
 * plus jitter. `passed`: this check's result; `healthy`: the host's state after it.
 */
export function healthCheckIntervalMs(hc: HealthCheckPlan, hadTraffic: boolean, passed: boolean, healthy: boolean, random: () => number = Math.random): number {
  let base: number;
  if (!hadTraffic) base = healthy ? hc.noTrafficHealthyIntervalMs : hc.noTrafficIntervalMs;
  else if (passed) base = healthy ? hc.intervalMs : hc.healthyEdgeIntervalMs;
  else base = healthy ? hc.unhealthyEdgeIntervalMs : hc.unhealthyIntervalMs;
  const percent = Math.floor((hc.intervalJitterPercent * base) / 100);
  if (percent > 0) base += Math.floor(random() * percent);
  if (hc.intervalJitterMs > 0) base += Math.floor(random() * hc.intervalJitterMs);
  return Math.max(1, base);
}

/**
 * Which failed calls count towards ejecting a host, in Envoy's terms: every 5xx (HTTP, or a
 * trailers-only grpc-status Envoy maps to one: UNKNOWN, INTERNAL, DATA_LOSS, UNIMPLEMENTED,
 * DEADLINE_EXCEEDED, UNAVAILABLE), or only gateway failures (502–504, and so UNAVAILABLE and
 * DEADLINE_EXCEEDED), resets, failed connections and timeouts counting as either.
 */
export type OutlierCount = 'all-5xx' | 'gateway-failures' | 'nothing';

export interface CorsPlan {
  /** allow_origin_string_match: an origin is allowed when one of these matches it. */
  origins: Array<(origin: string) => boolean>;
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  maxAge: string;
}

export interface JwtPlan {
  provider: string;
  issuer: string;
  audiences: string[];
  jwksFile: string;
  headerName: string;
  valuePrefix: string;
  forward: boolean;
  payloadInMetadata?: string;
  clockSkewSeconds: number;
  rules: Array<{ prefix?: string; path?: string; requires: boolean }>;
}

export interface RateLimitPlan {
  domain: string;
  timeoutMs: number;
  failureModeDeny: boolean;
  /** The HTTP status of a refusal when the limit store fails and failureModeDeny is set (status_on_error; Envoy's 500 by default). */
  statusOnError: number;
  xRateLimitHeaders: boolean;
  /** The limit of each descriptor key (an entry without `value`). */
  limits: Map<string, DescriptorLimit>;
  /** Limits for one value of a key (entries with `value`): they take the place of the key's own limit for that value. */
  valueLimits?: Map<string, Map<string, DescriptorLimit>>;
}

/** One descriptor entry of envoy/ratelimit/config.yaml. */
export interface DescriptorLimit {
  unit: string;
  requestsPerUnit: number;
  durationSeconds: number;
  /** shadow_mode: counted, never refused. */
  shadow?: boolean;
  /** unlimited: never counted or refused. */
  unlimited?: boolean;
}

type Obj = Record<string, unknown>;

// The rate limit service's fixed windows (its UnitToDivider).
const UNIT_SECONDS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86400 };
const FILTER_CORS = 'envoy.filters.http.cors';
const FILTER_LOCAL_RL = 'envoy.filters.http.local_ratelimit';
const SUPPORTED_FILTERS = new Set([
  'envoy.filters.http.grpc_web',
  FILTER_CORS,
  'envoy.filters.http.jwt_authn',
  FILTER_LOCAL_RL,
  'envoy.filters.http.ratelimit',
  'envoy.filters.http.router',
]);

/** Reads a proto3 JSON duration ("1s", "0.05s") as milliseconds. */
export function durationMs(value: unknown, where: string): number {
  if (typeof value !== 'string' || !/^\d+(\.\d+)?s$/.test(value)) throw new Error(`${where}: expected a duration such as "1s", got ${JSON.stringify(value)}`);
  return Math.round(Number(value.slice(0, -1)) * 1000);
}

/** `obj[key]` as a duration in ms, or `fallback` where the file leaves it out (Envoy's default); `where` is obj's path. */
function optionalDurationMs(obj: Obj, key: string, where: string, fallback: number): number {
  return obj[key] === undefined ? fallback : durationMs(obj[key], `${where}.${key}`);
}

/** Reads both files and builds the plan; throws with the path of anything it cannot use. */
export function readGatewayPlan(envoyFile: string, rateLimitFile: string): GatewayPlan {
  const envoy = parseEnvoyYaml(readFileSync(envoyFile, 'utf8'), envoyFile);
  const limits = parseEnvoyYaml(readFileSync(rateLimitFile, 'utf8'), rateLimitFile);
  return buildGatewayPlan(envoy, limits);
}

class Reader {
  readonly unsupported: string[] = [];

  /** Returns the object at `where`, recording keys outside `known` as unsupported. */
  obj(value: unknown, where: string, known: string[]): Obj {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected an object`);
    for (const key of Object.keys(value)) if (!known.includes(key) && key !== '@type') this.unsupported.push(`${where}.${key}`);
    return value as Obj;
  }

  list(value: unknown, where: string): unknown[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw new Error(`${where}: expected a list`);
    return value;
  }
}

/**
 * An enum field's value as Envoy reads it: proto3 JSON allows the number as well as the name,
 * and Envoy parses names in any case. `names` are the enum's names in the order of their numbers.
 */
function enumName(v: unknown, names: readonly string[], fallback: string): string {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number') return names[v] ?? String(v);
  return String(v).toUpperCase();
}

const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : fallback);

/** Builds the plan from the parsed documents (exported for tests). */
export function buildGatewayPlan(envoyDoc: unknown, rateLimitDoc: unknown): GatewayPlan {
  const r = new Reader();
  const root = r.obj(envoyDoc, '', ['admin', 'static_resources']);
  if (root.admin !== undefined) r.unsupported.push('admin (the gateway serves metrics on its own port instead)');
  const sr = r.obj(root.static_resources, 'static_resources', ['listeners', 'clusters']);
  const listeners = r.list(sr.listeners, 'static_resources.listeners');
  if (listeners.length !== 1) throw new Error('static_resources.listeners: the gateway runs exactly one listener');
  const lw = 'static_resources.listeners[0]';
  const listener = r.obj(listeners[0], lw, ['name', 'address', 'filter_chains']);
  const sock = r.obj(r.obj(listener.address, `${lw}.address`, ['socket_address']).socket_address, `${lw}.address.socket_address`, ['address', 'port_value']);
  const chains = r.list(listener.filter_chains, `${lw}.filter_chains`);
  if (chains.length !== 1) throw new Error(`${lw}.filter_chains: the gateway supports one filter chain`);
  const chain = r.obj(chains[0], `${lw}.filter_chains[0]`, ['filters']);
  const netFilters = r.list(chain.filters, `${lw}.filter_chains[0].filters`);
  const hcmFilter = netFilters.map((f) => f as Obj).find((f) => f.name === 'envoy.filters.network.http_connection_manager');
  if (!hcmFilter) throw new Error(`${lw}: no http_connection_manager`);
  const hw = `${lw}.filter_chains[0].filters[http_connection_manager].typed_config`;
  const hcm = r.obj(hcmFilter.typed_config, hw, [
    'stat_prefix',
    'codec_type',
    'use_remote_address',
    'xff_num_trusted_hops',
    'stream_idle_timeout',
    'route_config',
    'http_filters',
    'common_http_protocol_options',
    'http2_protocol_options',
    'access_log',
  ]);
  const idleTimeoutMs = commonIdleTimeoutMs(r, hcm.common_http_protocol_options, `${hw}.common_http_protocol_options`);
  const h2opts = hcm.http2_protocol_options === undefined ? {} : r.obj(hcm.http2_protocol_options, `${hw}.http2_protocol_options`, HTTP2_OPTION_KEYS);
  let accessLog = false;
  r.list(hcm.access_log, `${hw}.access_log`).forEach((entry, i) => {
    const aw = `${hw}.access_log[${i}]`;
    const e = r.obj(entry, aw, ['name', 'typed_config']);
    const type = String((e.typed_config as Obj | undefined)?.['@type'] ?? '');
    if (type.endsWith('.StdoutAccessLog')) {
      // The gateway writes its own JSON line per request; a custom log_format is not reproduced.
      r.obj(e.typed_config, `${aw}.typed_config`, []);
      accessLog = true;
    } else {
      r.unsupported.push(`${aw} ${String(e.name)} (only the stdout access log is implemented)`);
    }
  });
  if (num(hcm.xff_num_trusted_hops, 0) !== 0) r.unsupported.push(`${hw}.xff_num_trusted_hops (the gateway uses the socket address)`);
  // The gateway always takes the caller's address from the socket (Envoy's use_remote_address:
  // true) and always tells HTTP/1.1 from HTTP/2 by the first bytes (codec_type: AUTO).
  if (hcm.use_remote_address !== true) r.unsupported.push(`${hw}.use_remote_address ${String(hcm.use_remote_address ?? false)} (the gateway uses the socket address, as with true)`);
  if (enumName(hcm.codec_type, ['AUTO', 'HTTP1', 'HTTP2', 'HTTP3'], 'AUTO') !== 'AUTO') r.unsupported.push(`${hw}.codec_type ${String(hcm.codec_type)} (the gateway serves HTTP/1.1 and HTTP/2 alike, as with AUTO)`);

  // HTTP filters, in order.
  const filters: string[] = [];
  const filterConfigs = new Map<string, Obj>();
  r.list(hcm.http_filters, `${hw}.http_filters`).forEach((f, i) => {
    const filter = r.obj(f, `${hw}.http_filters[${i}]`, ['name', 'typed_config']);
    const name = String(filter.name);
    if (!SUPPORTED_FILTERS.has(name)) r.unsupported.push(`${hw}.http_filters[${i}] ${name} (filter not implemented)`);
    filters.push(name);
    filterConfigs.set(name, (filter.typed_config ?? {}) as Obj);
  });
  if (filters[filters.length - 1] !== 'envoy.filters.http.router') throw new Error(`${hw}.http_filters: the router must be last`);

  const jwt = readJwt(r, filterConfigs.get('envoy.filters.http.jwt_authn'), `${hw}.http_filters[jwt_authn]`);
  const rateLimit = readRateLimit(r, filterConfigs.get('envoy.filters.http.ratelimit'), rateLimitDoc, `${hw}.http_filters[ratelimit]`);
  const localFilter = filterConfigs.get(FILTER_LOCAL_RL);
  if (localFilter) r.obj(localFilter, `${hw}.http_filters[local_ratelimit]`, ['stat_prefix']);
  const corsFilter = filterConfigs.get(FILTER_CORS);
  if (corsFilter) r.obj(corsFilter, `${hw}.http_filters[cors]`, []);

  // Routes of the single virtual host.
  const rcw = `${hw}.route_config`;
  const rc = r.obj(hcm.route_config, rcw, ['name', 'virtual_hosts']);
  const vhosts = r.list(rc.virtual_hosts, `${rcw}.virtual_hosts`);
  if (vhosts.length !== 1) throw new Error(`${rcw}.virtual_hosts: the gateway supports one virtual host`);
  const vw = `${rcw}.virtual_hosts[0]`;
  const vh = r.obj(vhosts[0], vw, ['name', 'domains', 'typed_per_filter_config', 'rate_limits', 'routes']);
  const domains = r.list(vh.domains, `${vw}.domains`);
  if (domains.length !== 1 || domains[0] !== '*') r.unsupported.push(`${vw}.domains (the gateway answers every host)`);
  const vhFilterConfig = (vh.typed_per_filter_config ?? {}) as Obj;
  const cors = vhFilterConfig[FILTER_CORS] ? readCors(r, vhFilterConfig[FILTER_CORS], `${vw}.typed_per_filter_config.cors`) : undefined;
  for (const key of Object.keys(vhFilterConfig)) if (key !== FILTER_CORS) r.unsupported.push(`${vw}.typed_per_filter_config.${key}`);
  const vhActions = readRateLimitActions(r, vh.rate_limits, `${vw}.rate_limits`);

  const routes = r.list(vh.routes, `${vw}.routes`).map((value, i) => readRoute(r, value, `${vw}.routes[${i}]`, vhActions));

  const clusters = new Map<string, ClusterPlan>();
  r.list(sr.clusters, 'static_resources.clusters').forEach((value, i) => {
    const c = readCluster(r, value, `static_resources.clusters[${i}]`);
    clusters.set(c.name, c);
  });
  for (const route of routes) {
    if (!clusters.has(route.cluster)) throw new Error(`route ${route.name}: unknown cluster ${route.cluster}`);
  }
  return {
    listener: {
      name: String(listener.name),
      port: num(sock.port_value, 8080),
      // Envoy's defaults: streams idle 5 minutes, connections idle 1 hour.
      streamIdleTimeoutMs: optionalDurationMs(hcm, 'stream_idle_timeout', hw, 300_000),
      idleTimeoutMs,
      http2: http2Options(h2opts),
      accessLog,
    },
    filters,
    routes,
    clusters,
    cors,
    jwt,
    rateLimit,
    unsupported: r.unsupported,
  };
}

/** A safe_regex (RE2Matcher) as a RegExp on the whole value, as RE2 matches; the patterns used here are also valid JavaScript. */
function readSafeRegex(r: Reader, value: unknown, where: string): RegExp {
  return new RegExp(`^(?:${String(r.obj(value, where, ['regex']).regex)})$`);
}

/**
 * A type.matcher.v3.StringMatcher as a test on a value: exact, prefix, suffix, contains or
 * safe_regex, with ignore_case. Used for route header matchers and CORS origins alike.
 */
function readStringMatcher(r: Reader, value: unknown, where: string): (v: string) => boolean {
  const sm = r.obj(value, where, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case']);
  if (sm.safe_regex !== undefined) {
    const re = readSafeRegex(r, sm.safe_regex, `${where}.safe_regex`);
    return (v) => re.test(v);
  }
  const fold = sm.ignore_case === true ? (v: string) => v.toLowerCase() : (v: string) => v;
  if (typeof sm.exact === 'string') {
    const x = fold(sm.exact);
    return (v) => fold(v) === x;
  }
  if (typeof sm.prefix === 'string') {
    const x = fold(sm.prefix);
    return (v) => fold(v).startsWith(x);
  }
  if (typeof sm.suffix === 'string') {
    const x = fold(sm.suffix);
    return (v) => fold(v).endsWith(x);
  }
  if (typeof sm.contains === 'string') {
    const x = fold(sm.contains);
    return (v) => fold(v).includes(x);
  }
  throw new Error(`${where}: the gateway matches exact, prefix, suffix, contains or safe_regex`);
}

/**
 * A route's HeaderMatcher: string_match, present_match, and invert_match. Other kinds are
 * refused at start, since a route matched differently from Envoy would send calls elsewhere.
 */
function readHeaderMatch(r: Reader, value: unknown, where: string): HeaderMatch {
  const h = r.obj(value, where, ['name', 'string_match', 'present_match', 'invert_match', 'treat_missing_header_as_empty']);
  const name = String(h.name).toLowerCase();
  const invert = h.invert_match === true;
  if (h.present_match !== undefined) {
    const want = h.present_match === true;
    return { name, test: (v) => (v !== undefined) === want !== invert };
  }
  if (h.string_match === undefined) throw new Error(`${where}: the gateway matches headers by string_match or present_match only`);
  const test = readStringMatcher(r, h.string_match, `${where}.string_match`);
  const missingAsEmpty = h.treat_missing_header_as_empty === true;
  // An absent header matches nothing, inverted or not, unless it is to be taken as empty (Envoy's rule).
  return {
    name,
    test: (v) => {
      if (v === undefined) {
        if (!missingAsEmpty) return false;
        v = '';
      }
      return test(v) !== invert;
    },
  };
}

function readRoute(r: Reader, value: unknown, where: string, vhActions: RateLimitAction[][]): RoutePlan {
  const route = r.obj(value, where, ['name', 'match', 'route', 'typed_per_filter_config']);
  const match = r.obj(route.match, `${where}.match`, ['prefix', 'path', 'safe_regex', 'grpc', 'headers']);
  const action = r.obj(route.route, `${where}.route`, ['cluster', 'timeout', 'idle_timeout', 'max_stream_duration', 'retry_policy', 'rate_limits']);
  const name = String(route.name ?? where);
  const plan: RoutePlan = {
    name,
    grpcOnly: match.grpc !== undefined,
    cluster: String(action.cluster),
    // Envoy's router takes no notice of `timeout` once max_stream_duration is set.
    timeoutMs: action.max_stream_duration !== undefined ? 0 : optionalDurationMs(action, 'timeout', `${where}.route`, 15_000),
    rateLimitActions: action.rate_limits !== undefined ? readRateLimitActions(r, action.rate_limits, `${where}.route.rate_limits`) : vhActions,
  };
  if (match.headers !== undefined) plan.headers = r.list(match.headers, `${where}.match.headers`).map((h, i) => readHeaderMatch(r, h, `${where}.match.headers[${i}]`));
  if (typeof match.prefix === 'string') plan.prefix = match.prefix;
  else if (typeof match.path === 'string') plan.path = match.path;
  else if (match.safe_regex !== undefined) plan.regex = readSafeRegex(r, match.safe_regex, `${where}.match.safe_regex`);
  else throw new Error(`${where}.match: needs prefix, path or safe_regex`);
  if (action.idle_timeout !== undefined) plan.idleTimeoutMs = durationMs(action.idle_timeout, `${where}.route.idle_timeout`);
  if (action.max_stream_duration !== undefined) {
    const mw = `${where}.route.max_stream_duration`;
    const msd = r.obj(action.max_stream_duration, mw, ['max_stream_duration', 'grpc_timeout_header_max', 'grpc_timeout_header_offset']);
    const d: StreamDurationPlan = {};
    if (msd.max_stream_duration !== undefined) d.maxMs = durationMs(msd.max_stream_duration, `${mw}.max_stream_duration`);
    if (msd.grpc_timeout_header_max !== undefined) d.grpcTimeoutHeaderMaxMs = durationMs(msd.grpc_timeout_header_max, `${mw}.grpc_timeout_header_max`);
    if (msd.grpc_timeout_header_offset !== undefined) d.grpcTimeoutHeaderOffsetMs = durationMs(msd.grpc_timeout_header_offset, `${mw}.grpc_timeout_header_offset`);
    plan.streamDuration = d;
  }
  if (action.retry_policy !== undefined) {
    const rp = r.obj(action.retry_policy, `${where}.route.retry_policy`, ['retry_on', 'num_retries', 'per_try_timeout', 'retry_back_off', 'retry_host_predicate', 'host_selection_retry_max_attempts']);
    let otherHost = false;
    r.list(rp.retry_host_predicate, `${where}.route.retry_policy.retry_host_predicate`).forEach((p, i) => {
      const name = String((p as Obj).name);
      if (name === 'envoy.retry_host_predicates.previous_hosts') otherHost = true;
      else r.unsupported.push(`${where}.route.retry_policy.retry_host_predicate[${i}] ${name} (only previous_hosts is implemented)`);
    });
    const backOff = rp.retry_back_off === undefined ? {} : r.obj(rp.retry_back_off, `${where}.route.retry_policy.retry_back_off`, ['base_interval', 'max_interval']);
    const baseIntervalMs = optionalDurationMs(backOff, 'base_interval', `${where}.route.retry_policy.retry_back_off`, 25);
    const retryOn = new Set(String(rp.retry_on ?? '').split(',').map((s) => s.trim()).filter(Boolean));
    for (const on of retryOn) if (!RETRY_ON.has(on)) r.unsupported.push(`${where}.route.retry_policy.retry_on ${on} (implemented: ${[...RETRY_ON].join(', ')})`);
    plan.retry = {
      retryOn,
      numRetries: num(rp.num_retries, 1),
      perTryTimeoutMs: optionalDurationMs(rp, 'per_try_timeout', `${where}.route.retry_policy`, 0),
      baseIntervalMs,
      maxIntervalMs: optionalDurationMs(backOff, 'max_interval', `${where}.route.retry_policy.retry_back_off`, baseIntervalMs * 10),
      otherHost,
    };
  }
  const perFilter = (route.typed_per_filter_config ?? {}) as Obj;
  for (const key of Object.keys(perFilter)) {
    if (key !== FILTER_LOCAL_RL) {
      r.unsupported.push(`${where}.typed_per_filter_config.${key}`);
      continue;
    }
    const lw = `${where}.typed_per_filter_config.local_ratelimit`;
    const local = r.obj(perFilter[key], lw, ['stat_prefix', 'token_bucket', 'filter_enabled', 'filter_enforced', 'rate_limited_as_resource_exhausted']);
    const bucket = r.obj(local.token_bucket, `${lw}.token_bucket`, ['max_tokens', 'tokens_per_fill', 'fill_interval']);
    // filter_enabled and filter_enforced: the share of calls the bucket sees and refuses. As in
    // Envoy, absent means none: a bucket not enabled, or not enforced (shadow mode), refuses nothing.
    const share = (k: 'filter_enabled' | 'filter_enforced'): number => {
      const frac = (local[k] as Obj | undefined)?.default_value as Obj | undefined;
      if (!frac) return 0;
      const pct = num(frac.numerator, 0) / ({ HUNDRED: 1, TEN_THOUSAND: 100, MILLION: 10_000 }[enumName(frac.denominator, ['HUNDRED', 'TEN_THOUSAND', 'MILLION'], 'HUNDRED')] ?? 1);
      if (pct > 0 && pct < 100) r.unsupported.push(`${lw}.${k} ${pct}% (partial enforcement: the gateway enforces on every call or none)`);
      return pct;
    };
    const enabled = share('filter_enabled') > 0;
    const enforced = share('filter_enforced') > 0;
    requireResourceExhausted(r, local, lw);
    if (!enabled || !enforced) continue;
    plan.localLimit = {
      maxTokens: num(bucket.max_tokens, 0),
      tokensPerFill: num(bucket.tokens_per_fill, 1),
      fillIntervalMs: durationMs(bucket.fill_interval, `${lw}.token_bucket.fill_interval`),
    };
  }
  return plan;
}

/**
 * Both rate limit filters' rate_limited_as_resource_exhausted: the gateway always refuses with
 * RESOURCE_EXHAUSTED, so a filter that leaves it unset (Envoy's gRPC answer is then
 * UNAVAILABLE) is named as not implemented.
 */
function requireResourceExhausted(r: Reader, filter: Obj, where: string): void {
  if (filter.rate_limited_as_resource_exhausted !== true) r.unsupported.push(`${where}.rate_limited_as_resource_exhausted (the gateway answers RESOURCE_EXHAUSTED, where Envoy's gRPC answer would be UNAVAILABLE)`);
}

function readRateLimitActions(r: Reader, value: unknown, where: string): RateLimitAction[][] {
  return r.list(value, where).map((entry, i) => {
    const rl = r.obj(entry, `${where}[${i}]`, ['actions']);
    const actions = r.list(rl.actions, `${where}[${i}].actions`);
    if (actions.length !== 1) r.unsupported.push(`${where}[${i}].actions (${actions.length} actions in one descriptor: the gateway counts descriptors of one entry only, and skips this one)`);
    return actions.map((a, j): RateLimitAction => {
      const aw = `${where}[${i}].actions[${j}]`;
      const act = r.obj(a, aw, ['remote_address', 'metadata', 'generic_key']);
      if (act.remote_address !== undefined) return { kind: 'remote_address' };
      if (act.generic_key !== undefined) {
        const g = r.obj(act.generic_key, `${aw}.generic_key`, ['descriptor_key', 'descriptor_value']);
        return { kind: 'generic_key', descriptorKey: String(g.descriptor_key ?? 'generic_key'), value: String(g.descriptor_value) };
      }
      const md = r.obj(act.metadata, `${aw}.metadata`, ['descriptor_key', 'metadata_key', 'source']);
      if (enumName(md.source, ['DYNAMIC', 'ROUTE_ENTRY'], 'DYNAMIC') !== 'DYNAMIC') r.unsupported.push(`${aw}.metadata.source ${String(md.source)} (the gateway reads dynamic metadata only)`);
      const key = r.obj(md.metadata_key, `${aw}.metadata.metadata_key`, ['key', 'path']);
      const path = r.list(key.path, `${aw}.metadata.metadata_key.path`).map((p) => String((p as Obj).key));
      return { kind: 'metadata', descriptorKey: String(md.descriptor_key), filter: String(key.key), path };
    });
  });
}

const LB_POLICIES = new Set(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM']);
/** Envoy's type.v3.StatusCode names of the 4xx and 5xx statuses, for fields such as status_on_error. */
const HTTP_STATUS_NAMES: Record<string, number> = {
  BadRequest: 400, Unauthorized: 401, PaymentRequired: 402, Forbidden: 403, NotFound: 404, MethodNotAllowed: 405, NotAcceptable: 406,
  ProxyAuthenticationRequired: 407, RequestTimeout: 408, Conflict: 409, Gone: 410, LengthRequired: 411, PreconditionFailed: 412,
  PayloadTooLarge: 413, URITooLong: 414, UnsupportedMediaType: 415, RangeNotSatisfiable: 416, ExpectationFailed: 417, MisdirectedRequest: 421,
  UnprocessableEntity: 422, Locked: 423, FailedDependency: 424, UpgradeRequired: 426, PreconditionRequired: 428, TooManyRequests: 429,
  RequestHeaderFieldsTooLarge: 431, InternalServerError: 500, NotImplemented: 501, BadGateway: 502, ServiceUnavailable: 503, GatewayTimeout: 504,
  HTTPVersionNotSupported: 505, VariantAlsoNegotiates: 506, InsufficientStorage: 507, LoopDetected: 508, NotExtended: 510, NetworkAuthenticationRequired: 511,
};

/** An HTTP status given by its StatusCode name or number; a status outside 4xx and 5xx is named as unsupported and read as 500. */
function httpStatusCode(r: Reader, value: unknown, where: string): number {
  const code = typeof value === 'number' ? value : HTTP_STATUS_NAMES[String(value)];
  if (code !== undefined && code >= 400 && code <= 599) return code;
  r.unsupported.push(`${where} ${String(value)} (only 4xx and 5xx statuses)`);
  return 500;
}

/** The retry_on conditions the gateway tells apart (see FailureKind in proxy/upstream.ts). */
const RETRY_ON = new Set(['unavailable', 'reset', 'connect-failure', 'refused-stream', 'gateway-error', '5xx']);

function readCluster(r: Reader, value: unknown, where: string): ClusterPlan {
  const c = r.obj(value, where, ['name', 'type', 'lb_policy', 'connect_timeout', 'typed_extension_protocol_options', 'common_lb_config', 'circuit_breakers', 'outlier_detection', 'health_checks', 'load_assignment']);
  const name = String(c.name);
  const endpoints = r.list((c.load_assignment as Obj | undefined)?.endpoints, `${where}.load_assignment.endpoints`);
  const lbEndpoints = endpoints.flatMap((e) => r.list((e as Obj).lb_endpoints, `${where}.load_assignment.endpoints[].lb_endpoints`));
  const addresses = lbEndpoints.map((e) => {
    const sock = ((((e as Obj)?.endpoint as Obj)?.address as Obj)?.socket_address ?? {}) as Obj;
    return `${String(sock.address)}:${num(sock.port_value, 0)}`;
  });
  const lbPolicy = enumName(c.lb_policy, ['ROUND_ROBIN', 'LEAST_REQUEST', 'RING_HASH', 'RANDOM', 'ORIGINAL_DST_LB', 'MAGLEV', 'CLUSTER_PROVIDED', 'LOAD_BALANCING_POLICY_CONFIG'], 'ROUND_ROBIN');
  if (!LB_POLICIES.has(lbPolicy)) r.unsupported.push(`${where}.lb_policy ${lbPolicy} (the gateway uses round robin)`);
  const { http2, idleTimeoutMs } = readUpstreamProtocol(r, c.typed_extension_protocol_options, `${where}.typed_extension_protocol_options`);
  const breakers = c.circuit_breakers === undefined ? {} : r.obj(c.circuit_breakers, `${where}.circuit_breakers`, ['thresholds']);
  const thresholds = r
    .list(breakers.thresholds, `${where}.circuit_breakers.thresholds`)
    .map((t, i) => r.obj(t, `${where}.circuit_breakers.thresholds[${i}]`, ['priority', 'max_connections', 'max_pending_requests', 'max_requests', 'max_retries']));
  const priority = (t: Obj) => enumName(t.priority, ['DEFAULT', 'HIGH'], 'DEFAULT');
  const def = thresholds.find((t) => priority(t) === 'DEFAULT') ?? {};
  if (thresholds.some((t) => priority(t) === 'HIGH')) r.unsupported.push(`${where}.circuit_breakers.thresholds[priority=HIGH] (one priority only)`);
  const plan: ClusterPlan = {
    name,
    addresses,
    lbPolicy: lbPolicy === 'LEAST_REQUEST' || lbPolicy === 'RANDOM' ? lbPolicy : 'ROUND_ROBIN',
    http2,
    idleTimeoutMs,
    connectTimeoutMs: optionalDurationMs(c, 'connect_timeout', where, 5000),
    panicThresholdPercent: panicThreshold(r, c.common_lb_config, `${where}.common_lb_config`),
    // Envoy's defaults when a threshold is not set.
    breaker: {
      maxConnections: num(def.max_connections, 1024),
      maxPendingRequests: num(def.max_pending_requests, 1024),
      maxRequests: num(def.max_requests, 1024),
      maxRetries: num(def.max_retries, 3),
    },
  };
  if (c.outlier_detection !== undefined) {
    const ow = `${where}.outlier_detection`;
    const od = r.obj(c.outlier_detection, ow, [
      'consecutive_5xx',
      'enforcing_consecutive_5xx',
      'consecutive_gateway_failure',
      'enforcing_consecutive_gateway_failure',
      'interval',
      'base_ejection_time',
      'max_ejection_time',
      'max_ejection_time_jitter',
      'max_ejection_percent',
      'successful_active_health_check_uneject_host',
      'enforcing_success_rate',
      'success_rate_minimum_hosts',
    ]);
    // Envoy's defaults: consecutive_5xx enforced on every detection, gateway failures on none.
    const enforcing = (key: string, fallback: number): boolean => {
      const pct = num(od[key], fallback);
      if (pct > 0 && pct < 100) r.unsupported.push(`${ow}.${key} ${pct} (the gateway ejects on every detection or on none: 100 or 0)`);
      return pct > 0;
    };
    // Envoy ejects at most this share of the hosts (10% where the file is silent, and always at
    // least one); the gateway ejects any host that fails, so only 100 means the same.
    const maxEjection = num(od.max_ejection_percent, 10);
    if (maxEjection < 100) r.unsupported.push(`${ow}.max_ejection_percent ${maxEjection}${od.max_ejection_percent === undefined ? " (Envoy's default)" : ''} (the gateway may eject every host: 100)`);
    // Envoy's success-rate ejection is on by default (enforcing_success_rate 100), for clusters
    // of at least success_rate_minimum_hosts (5) hosts; the gateway does not implement it.
    const successRate = num(od.enforcing_success_rate, 100);
    if (successRate > 0 && addresses.length >= num(od.success_rate_minimum_hosts, 5)) {
      r.unsupported.push(`${ow}.enforcing_success_rate ${successRate}${od.enforcing_success_rate === undefined ? " (Envoy's default)" : ''} (success-rate ejection: the gateway ejects on consecutive failures only)`);
    }
    const all5xx = enforcing('enforcing_consecutive_5xx', 100);
    const gateway = enforcing('enforcing_consecutive_gateway_failure', 0);
    const c5xx = num(od.consecutive_5xx, 5);
    const cGateway = num(od.consecutive_gateway_failure, 5);
    const baseEjectionMs = optionalDurationMs(od, 'base_ejection_time', ow, 30_000);
    plan.outlier = {
      ejectOn: all5xx ? 'all-5xx' : gateway ? 'gateway-failures' : 'nothing',
      consecutiveFailures: all5xx ? (gateway ? Math.min(c5xx, cGateway) : c5xx) : cGateway,
      intervalMs: optionalDurationMs(od, 'interval', ow, 10_000),
      baseEjectionMs,
      maxEjectionMs: optionalDurationMs(od, 'max_ejection_time', ow, Math.max(300_000, baseEjectionMs)),
      maxEjectionJitterMs: optionalDurationMs(od, 'max_ejection_time_jitter', ow, 0),
      unejectOnHealthCheck: od.successful_active_health_check_uneject_host !== false,
    };
  }
  const checks = r.list(c.health_checks, `${where}.health_checks`);
  if (checks.length > 1) r.unsupported.push(`${where}.health_checks[1..] (the gateway runs the first health check only)`);
  if (checks.length > 0) {
    const hw = `${where}.health_checks[0]`;
    const hc = r.obj(checks[0], hw, [
      'timeout',
      'interval',
      'unhealthy_threshold',
      'healthy_threshold',
      'grpc_health_check',
      'no_traffic_interval',
      'no_traffic_healthy_interval',
      'unhealthy_interval',
      'unhealthy_edge_interval',
      'healthy_edge_interval',
      'interval_jitter',
      'interval_jitter_percent',
      'initial_jitter',
    ]);
    const grpcCheck = r.obj(hc.grpc_health_check, `${hw}.grpc_health_check`, ['service_name']);
    const intervalMs = durationMs(hc.interval, `${hw}.interval`);
    const noTrafficIntervalMs = optionalDurationMs(hc, 'no_traffic_interval', hw, 60_000);
    const unhealthyIntervalMs = optionalDurationMs(hc, 'unhealthy_interval', hw, intervalMs);
    plan.health = {
      timeoutMs: durationMs(hc.timeout, `${hw}.timeout`),
      intervalMs,
      unhealthyThreshold: num(hc.unhealthy_threshold, 1),
      healthyThreshold: num(hc.healthy_threshold, 1),
      serviceName: String(grpcCheck.service_name ?? ''),
      noTrafficIntervalMs,
      noTrafficHealthyIntervalMs: optionalDurationMs(hc, 'no_traffic_healthy_interval', hw, noTrafficIntervalMs),
      unhealthyIntervalMs,
      unhealthyEdgeIntervalMs: optionalDurationMs(hc, 'unhealthy_edge_interval', hw, unhealthyIntervalMs),
      healthyEdgeIntervalMs: optionalDurationMs(hc, 'healthy_edge_interval', hw, intervalMs),
      intervalJitterMs: optionalDurationMs(hc, 'interval_jitter', hw, 0),
      intervalJitterPercent: num(hc.interval_jitter_percent, 0),
      initialJitterMs: optionalDurationMs(hc, 'initial_jitter', hw, 0),
    };
  }
  return plan;
}

/** common_lb_config.healthy_panic_threshold.value (a type.v3.Percent), Envoy's 50 when absent. */
function panicThreshold(r: Reader, value: unknown, where: string): number {
  if (value === undefined) return ENVOY_PANIC_THRESHOLD_PERCENT;
  const lb = r.obj(value, where, ['healthy_panic_threshold']);
  if (lb.healthy_panic_threshold === undefined) return ENVOY_PANIC_THRESHOLD_PERCENT;
  return num(r.obj(lb.healthy_panic_threshold, `${where}.healthy_panic_threshold`, ['value']).value, 0);
}

/**
 * A cluster's HttpProtocolOptions: its HTTP/2 options when it speaks HTTP/2 (else
 * undefined, HTTP/1.1) and its connections' idle timeout.
 */
function readUpstreamProtocol(r: Reader, value: unknown, where: string): { http2?: Http2Options; idleTimeoutMs: number } {
  const key = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
  const ext = value === undefined ? {} : r.obj(value, where, [key]);
  if (ext[key] === undefined) return { idleTimeoutMs: ENVOY_IDLE_TIMEOUT_MS };
  const pw = `${where}.${key}`;
  const protocol = r.obj(ext[key], pw, ['explicit_http_config', 'common_http_protocol_options']);
  const idleTimeoutMs = commonIdleTimeoutMs(r, protocol.common_http_protocol_options, `${pw}.common_http_protocol_options`);
  if (protocol.explicit_http_config === undefined) return { idleTimeoutMs };
  const explicit = r.obj(protocol.explicit_http_config, `${pw}.explicit_http_config`, ['http_protocol_options', 'http2_protocol_options']);
  if (explicit.http_protocol_options !== undefined) r.obj(explicit.http_protocol_options, `${pw}.explicit_http_config.http_protocol_options`, []);
  if (explicit.http2_protocol_options === undefined) return { idleTimeoutMs };
  return { http2: http2Options(r.obj(explicit.http2_protocol_options, `${pw}.explicit_http_config.http2_protocol_options`, HTTP2_OPTION_KEYS)), idleTimeoutMs };
}

function readCors(r: Reader, value: unknown, where: string): CorsPlan {
  const c = r.obj(value, where, ['allow_origin_string_match', 'allow_methods', 'allow_headers', 'expose_headers', 'max_age']);
  const origins = r.list(c.allow_origin_string_match, `${where}.allow_origin_string_match`).map((m, i) => readStringMatcher(r, m, `${where}.allow_origin_string_match[${i}]`));
  return {
    origins,
    allowMethods: String(c.allow_methods ?? 'GET, POST, OPTIONS'),
    allowHeaders: String(c.allow_headers ?? ''),
    exposeHeaders: String(c.expose_headers ?? ''),
    maxAge: String(c.max_age ?? ''),
  };
}

function readJwt(r: Reader, value: Obj | undefined, where: string): JwtPlan | undefined {
  if (!value) return undefined;
  const cfg = r.obj(value, where, ['providers', 'rules']);
  const providers = Object.entries((cfg.providers ?? {}) as Obj);
  if (providers.length !== 1) throw new Error(`${where}.providers: the gateway supports exactly one provider`);
  const [providerName, providerValue] = providers[0];
  const pw = `${where}.providers.${providerName}`;
  const p = r.obj(providerValue, pw, ['issuer', 'audiences', 'local_jwks', 'from_headers', 'forward', 'payload_in_metadata', 'clock_skew_seconds']);
  const headers = r.list(p.from_headers, `${pw}.from_headers`).map((h, i) => r.obj(h, `${pw}.from_headers[${i}]`, ['name', 'value_prefix']));
  if (headers.length > 1) r.unsupported.push(`${pw}.from_headers[1..] (the gateway reads the token from the first header only)`);
  const rules = r.list(cfg.rules, `${where}.rules`).map((rule, i) => {
    const rw = `${where}.rules[${i}]`;
    const ru = r.obj(rule, rw, ['match', 'requires']);
    const m = r.obj(ru.match, `${rw}.match`, ['prefix', 'path']);
    const req = ru.requires === undefined ? undefined : r.obj(ru.requires, `${rw}.requires`, ['provider_name']);
    if (req && req.provider_name !== providerName) throw new Error(`${rw}.requires: unknown provider ${String(req.provider_name)}`);
    return { prefix: m.prefix as string | undefined, path: m.path as string | undefined, requires: req !== undefined };
  });
  return {
    provider: providerName,
    issuer: String(p.issuer),
    audiences: r.list(p.audiences, `${pw}.audiences`).map(String),
    jwksFile: String(((p.local_jwks ?? {}) as Obj).filename ?? ''),
    // Without from_headers, Envoy reads `Authorization: Bearer <token>`; a from_headers entry
    // without value_prefix takes the header's whole value.
    headerName: String(headers[0]?.name ?? 'authorization').toLowerCase(),
    valuePrefix: headers.length === 0 ? 'Bearer ' : String(headers[0].value_prefix ?? ''),
    forward: p.forward === true,
    payloadInMetadata: p.payload_in_metadata as string | undefined,
    clockSkewSeconds: num(p.clock_skew_seconds, 60),
    rules,
  };
}

function readRateLimit(r: Reader, value: Obj | undefined, limitsDoc: unknown, where: string): RateLimitPlan | undefined {
  if (!value) return undefined;
  const cfg = r.obj(value, where, ['domain', 'request_type', 'timeout', 'failure_mode_deny', 'status_on_error', 'enable_x_ratelimit_headers', 'rate_limited_as_resource_exhausted', 'rate_limit_service']);
  const domain = String(cfg.domain);
  if (cfg.request_type !== undefined && cfg.request_type !== 'both') r.unsupported.push(`${where}.request_type ${String(cfg.request_type)} (the gateway limits every request, as Envoy's default, both, does)`);
  requireResourceExhausted(r, cfg, where);
  const doc = r.obj(limitsDoc, 'ratelimit', ['domain', 'descriptors']);
  if (doc.domain !== domain) throw new Error(`ratelimit config domain ${String(doc.domain)} does not match envoy.yaml's ${domain}`);
  const limits = new Map<string, DescriptorLimit>();
  const valueLimits = new Map<string, Map<string, DescriptorLimit>>();
  r.list(doc.descriptors, 'ratelimit.descriptors').forEach((d, i) => {
    const dw = `ratelimit.descriptors[${i}]`;
    const desc = r.obj(d, dw, ['key', 'value', 'rate_limit', 'shadow_mode', 'descriptors']);
    // Refused rather than skipped: a limit counted differently from the rate limit service's
    // would refuse callers it lets through, or the other way round.
    if (desc.descriptors !== undefined) throw new Error(`${dw}.descriptors: the gateway takes one level of descriptors (nested entries are not supported)`);
    const key = String(desc.key);
    const value = desc.value === undefined ? undefined : String(desc.value);
    if (value?.endsWith('*')) throw new Error(`${dw}.value ${value}: the gateway does not match values by wildcard`);
    let limit: DescriptorLimit;
    const rl = desc.rate_limit === undefined ? undefined : r.obj(desc.rate_limit, `${dw}.rate_limit`, ['unit', 'requests_per_unit', 'unlimited', 'name', 'replaces']);
    // (`name` only labels a limit for another's `replaces`.)
    if (rl?.replaces !== undefined) throw new Error(`${dw}.rate_limit.replaces: the gateway does not support replacing one limit with another`);
    if (!rl || rl.unlimited === true) {
      // The rate limit service lets through a descriptor whose entry has no rate_limit, as an unlimited one.
      if (rl && (rl.unit !== undefined || rl.requests_per_unit !== undefined)) throw new Error(`${dw}.rate_limit: unlimited with a unit or requests_per_unit`);
      limit = { unit: 'none', requestsPerUnit: 0, durationSeconds: 0, unlimited: true };
    } else {
      const unit = String(rl.unit).toLowerCase();
      const durationSeconds = UNIT_SECONDS[unit];
      if (!durationSeconds) throw new Error(`${dw}.rate_limit.unit: unknown unit ${String(rl.unit)}`);
      limit = { unit, requestsPerUnit: num(rl.requests_per_unit, 0), durationSeconds };
    }
    if (desc.shadow_mode === true) limit.shadow = true;
    // As the rate limit service, which refuses a config that names one descriptor twice.
    if (value === undefined) {
      if (limits.has(key)) throw new Error(`${dw}: a second limit for ${key}`);
      limits.set(key, limit);
    } else {
      let byValue = valueLimits.get(key);
      if (!byValue) valueLimits.set(key, (byValue = new Map()));
      if (byValue.has(value)) throw new Error(`${dw}: a second limit for ${key} ${value}`);
      byValue.set(value, limit);
    }
  });
  return {
    domain,
    timeoutMs: optionalDurationMs(cfg, 'timeout', where, 20),
    failureModeDeny: cfg.failure_mode_deny === true,
    statusOnError: cfg.status_on_error === undefined ? 500 : httpStatusCode(r, r.obj(cfg.status_on_error, `${where}.status_on_error`, ['code']).code, `${where}.status_on_error.code`),
    xRateLimitHeaders: enumName(cfg.enable_x_ratelimit_headers, ['OFF', 'DRAFT_VERSION_03'], 'OFF') === 'DRAFT_VERSION_03',
    limits,
    valueLimits,
  };
}
