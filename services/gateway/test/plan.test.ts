import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildGatewayPlan, healthCheckIntervalMs, readGatewayPlan, streamDurationMs, type HealthCheckPlan } from '../src/envoy/plan';
import { validateEnvoyConfig } from '../src/envoy/validate';
import { matchRoute } from '../src/proxy/gateway';

const ENVOY = 'envoy/envoy.yaml';
const LIMITS = 'envoy/ratelimit/config.yaml';
const load = () => ({ envoy: parse(readFileSync(ENVOY, 'utf8')), limits: parse(readFileSync(LIMITS, 'utf8')) });

test('plan_fromRealEnvoyYaml_takesRoutesClustersLimitsAndCors', () => {
  const plan = readGatewayPlan(ENVOY, LIMITS);
  expect(plan.filters).toEqual([
    'envoy.filters.http.grpc_web',
    'envoy.filters.http.cors',
    'envoy.filters.http.jwt_authn',
    'envoy.filters.http.local_ratelimit',
    'envoy.filters.http.ratelimit',
    'envoy.filters.http.router',
  ]);
  const byName = new Map(plan.routes.map((r) => [r.name, r]));
  // Routes with max_stream_duration have no router timeout (Envoy ignores `timeout` there):
  // the stream's limit is the caller's grpc-timeout, capped, or max_stream_duration.
  expect(byName.get('registration-streams')!.timeoutMs).toBe(0);
  expect(byName.get('registration-streams')!.streamDuration).toEqual({ grpcTimeoutHeaderMaxMs: 0 });
  expect(byName.get('course-reads')!.timeoutMs).toBe(0);
  expect(byName.get('course-reads')!.streamDuration).toEqual({ maxMs: 10_000, grpcTimeoutHeaderMaxMs: 10_000 });
  expect(byName.get('web')!.timeoutMs).toBe(15_000);
  expect(byName.get('web')!.streamDuration).toBeUndefined();
  expect(byName.get('course-reads')!.retry!.retryOn).toEqual(new Set(['unavailable', 'gateway-error']));
  expect(byName.get('course-reads')!.retry!.otherHost).toBe(true);
  expect(byName.get('registration')!.retry).toBeUndefined();
  expect(byName.get('registration')!.localLimit!.maxTokens).toBeGreaterThan(0);
  expect(byName.get('web')!.grpcOnly).toBe(false);
  // Reads route only the idempotent methods.
  expect(byName.get('registration-reads')!.regex!.test('/coursereg.registration.v1.RegistrationService/GetSchedule')).toBe(true);
  expect(byName.get('registration-reads')!.regex!.test('/coursereg.registration.v1.RegistrationService/Register')).toBe(false);

  const reg = plan.clusters.get('registration')!;
  // The cluster's http2_protocol_options, with Envoy's 256 MiB windows where the file is silent.
  expect(reg.http2).toEqual({ maxConcurrentStreams: 1000, initialStreamWindowSize: 268_435_456, initialConnectionWindowSize: 268_435_456 });
  expect(plan.clusters.get('web')!.http2).toBeUndefined();
  expect(reg.breaker.maxRequests).toBe(4096);
  // Only gateway failures eject a host (see envoy.yaml).
  expect(reg.outlier).toMatchObject({ ejectOn: 'gateway-failures', consecutiveFailures: 5 });
  expect(reg.health!.serviceName).toBe('coursereg.registration.v1.RegistrationService');
  expect(reg.addresses).toEqual(['registration:50053']);
  expect(reg.lbPolicy).toBe('LEAST_REQUEST');
  // No panic routing for the services: with no host in, calls fail fast.
  expect(reg.panicThresholdPercent).toBe(0);

  expect(plan.jwt!.issuer).toBe('coursereg');
  expect(plan.jwt!.rules).toEqual([{ prefix: '/coursereg.', path: undefined, requires: true }]);
  expect(plan.rateLimit!.limits.get('student')!.requestsPerUnit).toBe(20);
  expect(plan.rateLimit!.limits.get('remote_address')!.durationSeconds).toBe(1);
  expect(plan.cors!.exposeHeaders).toContain('grpc-status-details-bin');
  // The listener's transport settings and its access log are applied, so they are not named as unsupported.
  expect(plan.listener).toMatchObject({
    streamIdleTimeoutMs: 3_600_000,
    idleTimeoutMs: 300_000,
    http2: { maxConcurrentStreams: 1000, initialStreamWindowSize: 65536, initialConnectionWindowSize: 1048576 },
    accessLog: true,
  });
  // What the local gateway leaves to Envoy is named, not silently dropped.
  expect(plan.unsupported).toEqual(['admin (the gateway serves metrics on its own port instead)']);
});

test('plan_withoutListenerTransportSettings_usesEnvoysDefaults', () => {
  const { envoy, limits } = load();
  const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  delete hcm.stream_idle_timeout;
  delete hcm.common_http_protocol_options;
  delete hcm.http2_protocol_options;
  delete hcm.access_log;
  const plan = buildGatewayPlan(envoy, limits);
  expect(plan.listener).toMatchObject({
    streamIdleTimeoutMs: 300_000,
    idleTimeoutMs: 3_600_000,
    http2: { maxConcurrentStreams: 2_147_483_647, initialStreamWindowSize: 268_435_456, initialConnectionWindowSize: 268_435_456 },
    accessLog: false,
  });
});

test('plan_withTransportSettingOrAccessLoggerItDoesNotImplement_namesIt', () => {
  const { envoy, limits } = load();
  const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  hcm.common_http_protocol_options.max_connection_duration = '60s';
  hcm.http2_protocol_options.hpack_table_size = 0;
  hcm.access_log.push({ name: 'envoy.access_loggers.file', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: '/tmp/a.log' } });
  const plan = buildGatewayPlan(envoy, limits);
  expect(plan.unsupported).toEqual(
    expect.arrayContaining([
      expect.stringContaining('common_http_protocol_options.max_connection_duration'),
      expect.stringContaining('http2_protocol_options.hpack_table_size'),
      expect.stringContaining('access_log[1] envoy.access_loggers.file'),
    ]),
  );
  expect(plan.listener.accessLog).toBe(true);
});

test('plan_withFilterItDoesNotImplement_namesIt', () => {
  const { envoy, limits } = load();
  const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  hcm.http_filters.splice(1, 0, { name: 'envoy.filters.http.ext_authz', typed_config: {} });
  hcm.route_config.virtual_hosts[0].routes[0].route.hash_policy = [{ header: { header_name: 'x' } }];
  const plan = buildGatewayPlan(envoy, limits);
  expect(plan.unsupported).toEqual(expect.arrayContaining([expect.stringContaining('envoy.filters.http.ext_authz'), expect.stringContaining('routes[0].route.hash_policy')]));
});

test('plan_withRouteToUnknownCluster_failsAtStart', () => {
  const { envoy, limits } = load();
  envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster = 'nowhere';
  expect(() => buildGatewayPlan(envoy, limits)).toThrow(/unknown cluster nowhere/);
});

test('plan_withRateLimitDomainMismatch_failsAtStart', () => {
  const { envoy, limits } = load();
  limits.domain = 'other';
  expect(() => buildGatewayPlan(envoy, limits)).toThrow(/domain/);
});

test('plan_clusterWithSeveralEndpoints_keepsEachAddress_andNamesAnUnsupportedLbPolicy', () => {
  const { envoy, limits } = load();
  const course = envoy.static_resources.clusters.find((c: { name: string }) => c.name === 'course');
  const endpoint = course.load_assignment.endpoints[0].lb_endpoints[0];
  course.load_assignment.endpoints[0].lb_endpoints.push({ endpoint: { address: { socket_address: { address: 'course-b', port_value: 50061 } } } });
  course.load_assignment.endpoints.push({ lb_endpoints: [{ ...endpoint, endpoint: { address: { socket_address: { address: 'course-c', port_value: 50071 } } } }] });
  course.lb_policy = 'RING_HASH';
  const plan = buildGatewayPlan(envoy, limits);
  expect(plan.clusters.get('course')!.addresses).toEqual(['course:50051', 'course-b:50061', 'course-c:50071']);
  expect(plan.clusters.get('course')!.lbPolicy).toBe('ROUND_ROBIN');
  expect(plan.unsupported).toContain('static_resources.clusters[0].lb_policy RING_HASH (the gateway uses round robin)');
});

test('plan_healthyPanicThreshold_isEnvoys50WhereTheFileIsSilent_andOtherLbSettingsAreNamed', () => {
  const { envoy, limits } = load();
  const clusters = envoy.static_resources.clusters;
  delete clusters[0].common_lb_config;
  clusters[1].common_lb_config.healthy_panic_threshold = { value: 25.5 };
  clusters[2].common_lb_config.zone_aware_lb_config = { fail_traffic_on_panic: true };
  const plan = buildGatewayPlan(envoy, limits);
  expect(plan.clusters.get(clusters[0].name)!.panicThresholdPercent).toBe(50);
  expect(plan.clusters.get(clusters[1].name)!.panicThresholdPercent).toBe(25.5);
  expect(plan.unsupported).toContain('static_resources.clusters[2].common_lb_config.zone_aware_lb_config');
});

test('plan_healthChecks_takeEnvoysIntervalsAndDefaults', () => {
  const { envoy, limits } = load();
  const clusters = envoy.static_resources.clusters;
  const withChecks = clusters.filter((c: { health_checks?: unknown[] }) => c.health_checks).map((c: { name: string }) => c.name);
  const first = clusters.find((c: { name: string }) => c.name === withChecks[0]);
  const second = clusters.find((c: { name: string }) => c.name === withChecks[1]);
  // Envoy's defaults where the file is silent.
  delete first.health_checks[0].no_traffic_interval;
  Object.assign(second.health_checks[0], { unhealthy_interval: '2s', healthy_edge_interval: '0.5s', interval_jitter: '0.1s', interval_jitter_percent: 10, initial_jitter: '0.2s', no_traffic_healthy_interval: '30s' });
  const plan = buildGatewayPlan(envoy, limits);
  expect(plan.clusters.get(withChecks[0])!.health).toMatchObject({
    intervalMs: 5000,
    noTrafficIntervalMs: 60_000,
    noTrafficHealthyIntervalMs: 60_000,
    unhealthyIntervalMs: 5000,
    unhealthyEdgeIntervalMs: 5000,
    healthyEdgeIntervalMs: 5000,
    intervalJitterMs: 0,
    intervalJitterPercent: 0,
    initialJitterMs: 0,
  });
  expect(plan.clusters.get(withChecks[1])!.health).toMatchObject({
    noTrafficIntervalMs: 5000,
    noTrafficHealthyIntervalMs: 30_000,
    unhealthyIntervalMs: 2000,
    // unhealthy_edge_interval defaults to unhealthy_interval.
    unhealthyEdgeIntervalMs: 2000,
    healthyEdgeIntervalMs: 500,
    intervalJitterMs: 100,
    intervalJitterPercent: 10,
    initialJitterMs: 200,
  });
  expect(plan.unsupported.filter((u) => u.includes('health_checks'))).toEqual([]);
});

test('healthCheckInterval_followsEnvoysChoice', () => {
  const hc: HealthCheckPlan = {
    timeoutMs: 1000,
    intervalMs: 5000,
    unhealthyThreshold: 2,
    healthyThreshold: 3,
    serviceName: '',
    noTrafficIntervalMs: 60_000,
    noTrafficHealthyIntervalMs: 90_000,
    unhealthyIntervalMs: 7000,
    unhealthyEdgeIntervalMs: 1000,
    healthyEdgeIntervalMs: 2000,
    intervalJitterMs: 0,
    intervalJitterPercent: 0,
    initialJitterMs: 0,
  };
  const none = () => 0;
  // No call carried yet: the no-traffic intervals, by the host's state.
  expect(healthCheckIntervalMs(hc, false, false, false, none)).toBe(60_000);
  expect(healthCheckIntervalMs(hc, false, true, true, none)).toBe(90_000);
  // With traffic: passed and in, interval; passed but still out (short of healthy_threshold),
  // healthy_edge_interval; failed but still in, unhealthy_edge_interval; failed and out, unhealthy_interval.
  expect(healthCheckIntervalMs(hc, true, true, true, none)).toBe(5000);
  expect(healthCheckIntervalMs(hc, true, true, false, none)).toBe(2000);
  expect(healthCheckIntervalMs(hc, true, false, true, none)).toBe(1000);
  expect(healthCheckIntervalMs(hc, true, false, false, none)).toBe(7000);
  // Jitter: up to interval_jitter_percent of the base plus up to interval_jitter.
  const jittered = { ...hc, intervalJitterMs: 100, intervalJitterPercent: 10 };
  expect(healthCheckIntervalMs(jittered, true, true, true, none)).toBe(5000);
  expect(healthCheckIntervalMs(jittered, true, true, true, () => 0.5)).toBe(5000 + 250 + 50);
});

test('plan_outlierDetection_ejectsOnWhatEnvoyEnforces', () => {
  const { envoy, limits } = load();
  const clusters = envoy.static_resources.clusters;
  // Envoy's defaults: consecutive_5xx enforced, gateway failures not.
  clusters[0].outlier_detection = { consecutive_5xx: 7, consecutive_gateway_failure: 3 };
  clusters[1].outlier_detection = { enforcing_consecutive_5xx: 0, base_ejection_time: '400s' };
  clusters[2].outlier_detection = { consecutive_5xx: 7, consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100, max_ejection_time: '60s', max_ejection_time_jitter: '1s' };
  clusters[3].outlier_detection = { enforcing_consecutive_5xx: 50, max_ejection_percent: 100 };
  const plan = buildGatewayPlan(envoy, limits);
  const outlier = (i: number) => plan.clusters.get(clusters[i].name)!.outlier;
  expect(outlier(0)).toMatchObject({ ejectOn: 'all-5xx', consecutiveFailures: 7 });
  expect(outlier(1)).toMatchObject({ ejectOn: 'nothing' });
  // Both enforced: the lower threshold, counting every 5xx.
  expect(outlier(2)).toMatchObject({ ejectOn: 'all-5xx', consecutiveFailures: 3 });
  expect(outlier(3)).toMatchObject({ ejectOn: 'all-5xx' });
  // max_ejection_time: Envoy's 300 s, or base_ejection_time where that is longer; no jitter unless set.
  expect(outlier(0)).toMatchObject({ baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionJitterMs: 0 });
  expect(outlier(1)).toMatchObject({ baseEjectionMs: 400_000, maxEjectionMs: 400_000 });
  expect(outlier(2)).toMatchObject({ maxEjectionMs: 60_000, maxEjectionJitterMs: 1000 });
  expect(plan.unsupported.filter((u) => u.includes('max_ejection_time'))).toEqual([]);
  expect(plan.unsupported).toContain('static_resources.clusters[3].outlier_detection.enforcing_consecutive_5xx 50 (the gateway ejects on every detection or on none: 100 or 0)');
  // Envoy ejects at most max_ejection_percent of the hosts (10% unless set); the gateway only does as 100.
  expect(plan.unsupported).toContain("static_resources.clusters[0].outlier_detection.max_ejection_percent 10 (Envoy's default) (the gateway may eject every host: 100)");
  expect(plan.unsupported.filter((u) => u.includes('clusters[3].outlier_detection.max_ejection_percent'))).toEqual([]);
  // Without outlier_detection, Envoy ejects no host for its calls.
  delete clusters[0].outlier_detection;
  expect(buildGatewayPlan(envoy, limits).clusters.get(clusters[0].name)!.outlier).toBeUndefined();
});

test('plan_localRateLimit_refusesNothingUnlessEnabledAndEnforced_andRateLimitSettingsItDoesNotFollowAreNamed', () => {
  const { envoy, limits } = load();
  const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const routes = hcm.route_config.virtual_hosts[0].routes;
  const local = (name: string) => routes.find((r: { name: string }) => r.name === name).typed_per_filter_config['envoy.filters.http.local_ratelimit'];
  // Envoy: a bucket not enabled sees nothing; one not enforced only counts (shadow mode).
  delete local('course-reads').filter_enabled;
  delete local('course').filter_enforced;
  local('student-reads').filter_enforced.default_value = { numerator: 5000, denominator: 'TEN_THOUSAND' };
  local('student').rate_limited_as_resource_exhausted = false;
  const rateLimit = hcm.http_filters.find((f: { name: string }) => f.name === 'envoy.filters.http.ratelimit').typed_config;
  rateLimit.request_type = 'external';
  hcm.route_config.virtual_hosts[0].rate_limits.push({ actions: [{ remote_address: {} }, { generic_key: { descriptor_value: 'x' } }] });
  const plan = buildGatewayPlan(envoy, limits);
  const byName = new Map(plan.routes.map((r) => [r.name, r]));
  expect(byName.get('course-reads')!.localLimit).toBeUndefined();
  expect(byName.get('course')!.localLimit).toBeUndefined();
  expect(byName.get('registration')!.localLimit).toMatchObject({ maxTokens: expect.any(Number), tokensPerFill: expect.any(Number), fillIntervalMs: 1000 });
  expect(plan.unsupported).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/local_ratelimit\.filter_enforced 50% \(partial enforcement/),
      expect.stringMatching(/local_ratelimit\.rate_limited_as_resource_exhausted \(the gateway answers RESOURCE_EXHAUSTED/),
      expect.stringMatching(/request_type external \(the gateway limits every request/),
      expect.stringMatching(/rate_limits\[2\]\.actions \(2 actions in one descriptor/),
    ]),
  );
});

describe('route matching, as Envoy matches routes', () => {
  const LIST = '/coursereg.course.v1.CourseService/ListCourses';
  const routeFor = (plan: ReturnType<typeof buildGatewayPlan>, contentType?: string) => matchRoute(plan.routes, LIST, contentType === undefined ? {} : { 'content-type': contentType })?.name;

  test('envoyYaml_sendsGrpcAndGrpcWebCallsToTheServiceRoutes_andOtherRequestsToTheWebRoute', () => {
    const plan = readGatewayPlan(ENVOY, LIMITS);
    expect(routeFor(plan, 'application/grpc')).toBe('course-reads');
    expect(routeFor(plan, 'application/grpc+proto')).toBe('course-reads');
    expect(routeFor(plan, 'application/grpc-web+proto')).toBe('course-reads');
    expect(routeFor(plan, 'application/grpc-web-text')).toBe('course-reads');
    expect(routeFor(plan, 'text/html')).toBe('web');
    expect(routeFor(plan)).toBe('web');
  });

  test('grpcMatch_takesNativeGrpcOnly_soAGrpcWebCallFallsThrough', () => {
    // Envoy picks the route before the grpc_web filter rewrites the content-type
    // (envoyproxy/envoy#5914): `grpc: {}` never matches a browser's call.
    const { envoy, limits } = load();
    const routes = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
    for (const r of routes) {
      if (r.match.headers) {
        delete r.match.headers;
        r.match.grpc = {};
      }
    }
    const plan = buildGatewayPlan(envoy, limits);
    expect(routeFor(plan, 'application/grpc')).toBe('course-reads');
    expect(routeFor(plan, 'application/grpc+proto')).toBe('course-reads');
    expect(routeFor(plan, 'application/grpc-web+proto')).toBe('web');
    expect(routeFor(plan, 'application/grpcx')).toBe('web');
  });

  test('headerMatchers_exactSuffixContainsRegexPresentAndInvert', () => {
    const { envoy, limits } = load();
    const routes = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
    const course = routes.find((r: { name: string }) => r.name === 'course-reads');
    const cases: Array<[unknown, Record<string, string>, boolean]> = [
      [{ name: 'x-tenant', string_match: { exact: 'Uni', ignore_case: true } }, { 'x-tenant': 'uni' }, true],
      [{ name: 'x-tenant', string_match: { exact: 'Uni' } }, { 'x-tenant': 'uni' }, false],
      [{ name: 'x-tenant', string_match: { suffix: '-eu' } }, { 'x-tenant': 'uni-eu' }, true],
      [{ name: 'x-tenant', string_match: { contains: 'ni-e' } }, { 'x-tenant': 'uni-eu' }, true],
      [{ name: 'x-tenant', string_match: { safe_regex: { regex: 'u[a-z]+' } } }, { 'x-tenant': 'uni-eu' }, false],
      [{ name: 'x-tenant', present_match: true }, {}, false],
      [{ name: 'x-tenant', present_match: true, invert_match: true }, {}, true],
      [{ name: 'x-tenant', string_match: { exact: 'uni' }, invert_match: true }, { 'x-tenant': 'other' }, true],
      // An absent header matches no string_match, inverted or not, unless taken as empty.
      [{ name: 'x-tenant', string_match: { exact: 'uni' }, invert_match: true }, {}, false],
      [{ name: 'x-tenant', string_match: { exact: '' }, treat_missing_header_as_empty: true }, {}, true],
    ];
    for (const [matcher, headers, matches] of cases) {
      course.match.headers = [{ name: 'content-type', string_match: { prefix: 'application/grpc' } }, matcher];
      const plan = buildGatewayPlan(envoy, limits);
      const name = matchRoute(plan.routes, LIST, { 'content-type': 'application/grpc', ...headers })?.name;
      expect([matcher, name]).toEqual([matcher, matches ? 'course-reads' : 'course']);
    }
  });
});

/** The course cluster's HttpProtocolOptions in a loaded envoy.yaml, to change in place. */
function courseProtocolOptions(envoy: any): any {
  const course = envoy.static_resources.clusters.find((c: { name: string }) => c.name === 'course');
  return course.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
}

test('plan_clusterProtocolOptions_readsWindowsAndIdleTimeout_andNamesWhatItDoesNotImplement', () => {
  const { envoy, limits } = load();
  const options = courseProtocolOptions(envoy);
  options.common_http_protocol_options = { idle_timeout: '60s', max_connection_duration: '600s' };
  options.explicit_http_config.http2_protocol_options.initial_stream_window_size = 1_048_576;
  options.explicit_http_config.http2_protocol_options.hpack_table_size = 0;
  const plan = buildGatewayPlan(envoy, limits);
  expect(plan.clusters.get('course')!.http2).toMatchObject({ maxConcurrentStreams: 1000, initialStreamWindowSize: 1_048_576 });
  expect(plan.clusters.get('course')!.idleTimeoutMs).toBe(60_000);
  // Envoy's 1 h where the file is silent.
  expect(plan.clusters.get('student')!.idleTimeoutMs).toBe(3_600_000);
  const where = 'static_resources.clusters[0].typed_extension_protocol_options.envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
  expect(plan.unsupported).toEqual(expect.arrayContaining([`${where}.common_http_protocol_options.max_connection_duration`, `${where}.explicit_http_config.http2_protocol_options.hpack_table_size`]));
  expect(plan.unsupported.filter((u) => u.includes('idle_timeout'))).toEqual([]);
});

test('plan_http2Windows_overHttp2sLargest_areCappedAtIt', () => {
  const { envoy, limits } = load();
  const options = courseProtocolOptions(envoy);
  options.explicit_http_config.http2_protocol_options.initial_stream_window_size = 2 ** 32;
  options.explicit_http_config.http2_protocol_options.initial_connection_window_size = 2 ** 31;
  const plan = buildGatewayPlan(envoy, limits);
  expect(plan.clusters.get('course')!.http2).toMatchObject({ initialStreamWindowSize: 2 ** 31 - 1, initialConnectionWindowSize: 2 ** 31 - 1 });
});

test('plan_rateLimitStatusOnError_byNameOrNumber_defaultsTo500_andNamesAStatusOutside4xx5xx', () => {
  const statusOnError = (value: unknown): { status: number; unsupported: string[] } => {
    const { envoy, limits } = load();
    const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const ratelimit = hcm.http_filters.find((f: { name: string }) => f.name === 'envoy.filters.http.ratelimit');
    if (value !== undefined) ratelimit.typed_config.status_on_error = { code: value };
    const plan = buildGatewayPlan(envoy, limits);
    return { status: plan.rateLimit!.statusOnError, unsupported: plan.unsupported.filter((u) => u.includes('status_on_error')) };
  };
  expect(statusOnError(undefined)).toEqual({ status: 500, unsupported: [] });
  expect(statusOnError('ServiceUnavailable')).toEqual({ status: 503, unsupported: [] });
  expect(statusOnError(429)).toEqual({ status: 429, unsupported: [] });
  expect(statusOnError('OK')).toEqual({ status: 500, unsupported: [expect.stringContaining('status_on_error.code OK')] });
});

test('streamDuration_followsEnvoysConnectionManager', () => {
  const d = { maxMs: 10_000, grpcTimeoutHeaderMaxMs: 5_000 };
  // No grpc-timeout: max_stream_duration, or no limit without one.
  expect(streamDurationMs(d, undefined)).toBe(10_000);
  expect(streamDurationMs({ grpcTimeoutHeaderMaxMs: 5_000 }, undefined)).toBeUndefined();
  expect(streamDurationMs(undefined, 300)).toBeUndefined();
  // The caller's grpc-timeout, capped at grpc_timeout_header_max.
  expect(streamDurationMs(d, 300)).toBe(300);
  expect(streamDurationMs(d, 60_000)).toBe(5_000);
  // A grpc-timeout of 0 is taken as it stands: the time is up at once, cap or no cap, offset or not.
  expect(streamDurationMs(d, 0)).toBe(0);
  expect(streamDurationMs({ grpcTimeoutHeaderMaxMs: 0 }, 0)).toBe(0);
  expect(streamDurationMs({ ...d, grpcTimeoutHeaderOffsetMs: 50 }, 0)).toBe(0);
  // A cap of 0 is no cap.
  expect(streamDurationMs({ grpcTimeoutHeaderMaxMs: 0 }, 60_000)).toBe(60_000);
  // Without grpc_timeout_header_max the header is not used at all.
  expect(streamDurationMs({ maxMs: 10_000 }, 300)).toBe(10_000);
  // grpc_timeout_header_offset comes off the header's value; an offset past it leaves no time.
  expect(streamDurationMs({ ...d, grpcTimeoutHeaderOffsetMs: 50 }, 300)).toBe(250);
  expect(streamDurationMs({ ...d, grpcTimeoutHeaderOffsetMs: 50 }, 40)).toBe(0);
});

test('routeTimeout_isIgnoredWhereMaxStreamDurationIsSet_asEnvoysRouterIgnoresIt', () => {
  const { envoy, limits } = load();
  const routes = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
  const reads = routes.find((r: { name: string }) => r.name === 'course-reads');
  reads.route.timeout = '2s';
  reads.route.max_stream_duration = { grpc_timeout_header_max: '4s', grpc_timeout_header_offset: '0.1s' };
  delete routes.find((r: { name: string }) => r.name === 'course').route.max_stream_duration;
  const plan = buildGatewayPlan(envoy, limits);
  const byName = new Map(plan.routes.map((r) => [r.name, r]));
  expect(byName.get('course-reads')).toMatchObject({ timeoutMs: 0, streamDuration: { grpcTimeoutHeaderMaxMs: 4_000, grpcTimeoutHeaderOffsetMs: 100 } });
  // Without max_stream_duration, the router's timeout: 15 s when the route names none.
  expect(byName.get('course')!.timeoutMs).toBe(15_000);
  expect(byName.get('course')!.streamDuration).toBeUndefined();
  expect(plan.unsupported).toEqual(['admin (the gateway serves metrics on its own port instead)']);
});

test('plan_rateLimitEntries_valueShadowAndUnlimited_asTheRateLimitServiceReadsThem', () => {
  const { envoy, limits } = load();
  limits.descriptors.push(
    { key: 'remote_address', value: '50.0.0.5', rate_limit: { unit: 'second', requests_per_unit: 0 } },
    { key: 'remote_address', value: '10.1.2.3', rate_limit: { unlimited: true } },
    { key: 'remote_address', value: '10.1.2.4' },
    { key: 'registrar', rate_limit: { unit: 'MINUTE', requests_per_unit: 600 }, shadow_mode: true },
  );
  const plan = buildGatewayPlan(envoy, limits).rateLimit!;
  // The key's own limit stays as it is; each value has its own.
  expect(plan.limits.get('remote_address')).toEqual({ unit: 'second', requestsPerUnit: 500, durationSeconds: 1 });
  const byValue = plan.valueLimits!.get('remote_address')!;
  expect(byValue.get('50.0.0.5')).toEqual({ unit: 'second', requestsPerUnit: 0, durationSeconds: 1 });
  expect(byValue.get('10.1.2.3')).toMatchObject({ unlimited: true });
  expect(byValue.get('10.1.2.4')).toMatchObject({ unlimited: true });
  expect(plan.limits.get('registrar')).toEqual({ unit: 'minute', requestsPerUnit: 600, durationSeconds: 60, shadow: true });
  expect(buildGatewayPlan(envoy, limits).unsupported.filter((u) => u.startsWith('ratelimit'))).toEqual([]);
});

test.each([
  ['nested descriptors', { key: 'remote_address', descriptors: [{ key: 'path', rate_limit: { unit: 'second', requests_per_unit: 1 } }] }, /nested entries are not supported/],
  ['replaces', { key: 'student', value: 'S1', rate_limit: { unit: 'second', requests_per_unit: 1, name: 'one', replaces: [{ name: 'other' }] } }, /rate_limit.replaces: the gateway does not support/],
  ['a wildcard value', { key: 'remote_address', value: '10.0.*', rate_limit: { unit: 'second', requests_per_unit: 1 } }, /does not match values by wildcard/],
  ['a key named twice', { key: 'student', rate_limit: { unit: 'second', requests_per_unit: 5 } }, /a second limit for student/],
  ['unlimited with a unit', { key: 'x', rate_limit: { unlimited: true, unit: 'second', requests_per_unit: 5 } }, /unlimited with a unit or requests_per_unit/],
])('plan_rateLimitEntry_%s_isRefusedAtStart', (_what, entry, message) => {
  const { envoy, limits } = load();
  limits.descriptors.push(entry);
  expect(() => buildGatewayPlan(envoy, limits)).toThrow(message);
});

test('readGatewayPlan_readsYamlAsEnvoyDoes_yesAndNoAreBooleans', () => {
  const dir = mkdtempSync(join(tmpdir(), 'coursereg-plan-'));
  try {
    const envoyFile = join(dir, 'envoy.yaml');
    const limitsFile = join(dir, 'limits.yaml');
    const envoy = readFileSync(ENVOY, 'utf8');
    expect(envoy).toContain('failure_mode_deny: false');
    writeFileSync(envoyFile, envoy.replace('failure_mode_deny: false', 'failure_mode_deny: yes'));
    writeFileSync(limitsFile, `${readFileSync(LIMITS, 'utf8')}\n  - key: registrar\n    shadow_mode: on\n    rate_limit: {unit: second, requests_per_unit: 5}\n`);
    const plan = readGatewayPlan(envoyFile, limitsFile);
    expect(plan.rateLimit!.failureModeDeny).toBe(true);
    expect(plan.rateLimit!.limits.get('registrar')!.shadow).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('plan_settingsTheGatewayDoesNotFollow_areNamedNotDropped', () => {
  const { envoy, limits } = load();
  const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  hcm.use_remote_address = false;
  hcm.codec_type = 'HTTP1';
  const student = envoy.static_resources.clusters.find((c: { name: string }) => c.name === 'student');
  student.circuit_breakers.retry_budget = { budget_percent: { value: 20 } };
  student.circuit_breakers.thresholds[0].track_remaining = true;
  student.health_checks.push({ ...student.health_checks[0] });
  hcm.route_config.virtual_hosts[0].rate_limits.push({ actions: [{ metadata: { descriptor_key: 'x', metadata_key: { key: 'k', path: [{ key: 'p' }] }, source: 'ROUTE_ENTRY' } }] });
  const jwt = hcm.http_filters.find((f: { name: string }) => f.name === 'envoy.filters.http.jwt_authn').typed_config;
  const provider = Object.values(jwt.providers)[0] as { from_headers: Array<{ name: string; value_prefix?: string }> };
  provider.from_headers = [{ name: 'x-token' }, { name: 'authorization', value_prefix: 'Bearer ' }];
  const plan = buildGatewayPlan(envoy, limits);
  const named = plan.unsupported.join('\n');
  for (const what of ['use_remote_address false', 'codec_type HTTP1', 'circuit_breakers.retry_budget', 'thresholds[0].track_remaining', 'health_checks[1..]', 'metadata.source ROUTE_ENTRY', 'from_headers[1..]']) {
    expect(named).toContain(what);
  }
  // A from_headers entry without value_prefix takes the header's whole value, as in Envoy.
  expect(plan.jwt).toMatchObject({ headerName: 'x-token', valuePrefix: '' });
});

test('plan_enumValues_asNumbersOrInAnyCase_areReadAsEnvoyReadsThem', () => {
  const { envoy, limits } = load();
  const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const registration = envoy.static_resources.clusters.find((c: { name: string }) => c.name === 'registration');
  registration.circuit_breakers.thresholds[0].priority = 0; // DEFAULT
  registration.lb_policy = 'least_request';
  const rateLimit = hcm.http_filters.find((f: { name: string }) => f.name === 'envoy.filters.http.ratelimit').typed_config;
  rateLimit.enable_x_ratelimit_headers = 1; // DRAFT_VERSION_03
  const local = hcm.route_config.virtual_hosts[0].routes.find((r: { name: string }) => r.name === 'student-reads').typed_per_filter_config['envoy.filters.http.local_ratelimit'];
  local.filter_enforced.default_value = { numerator: 100, denominator: 1 }; // 100 in TEN_THOUSAND: 1%
  const plan = buildGatewayPlan(envoy, limits);
  const original = buildGatewayPlan(load().envoy, limits);
  expect(plan.clusters.get('registration')!.breaker).toEqual(original.clusters.get('registration')!.breaker);
  expect(plan.clusters.get('registration')!.lbPolicy).toBe('LEAST_REQUEST');
  expect(plan.rateLimit!.xRateLimitHeaders).toBe(true);
  // 100 in TEN_THOUSAND is 1%, not 100%: named, since the gateway enforces on every call or none.
  expect(plan.unsupported).toEqual(expect.arrayContaining([expect.stringMatching(/local_ratelimit\.filter_enforced 1% /)]));
  expect(validateEnvoyConfig(envoy)).toEqual([]);
});

test('plan_successRateEjection_isNamedForClustersLargeEnoughForIt', () => {
  const { envoy, limits } = load();
  const course = envoy.static_resources.clusters.find((c: { name: string }) => c.name === 'course');
  const endpoint = course.load_assignment.endpoints[0].lb_endpoints[0];
  for (let i = 1; i < 5; i++) course.load_assignment.endpoints[0].lb_endpoints.push({ ...endpoint, endpoint: { address: { socket_address: { address: `course-${i}`, port_value: 50051 } } } });
  const named = buildGatewayPlan(envoy, limits).unsupported.filter((u) => u.includes('enforcing_success_rate'));
  // Five hosts in course; the others have one, too few for Envoy's success-rate ejection.
  expect(named).toEqual([expect.stringMatching(/clusters\[0\]\.outlier_detection\.enforcing_success_rate 100 \(Envoy's default\)/)]);
  course.outlier_detection.enforcing_success_rate = 0;
  expect(buildGatewayPlan(envoy, limits).unsupported.filter((u) => u.includes('enforcing_success_rate'))).toEqual([]);
});
