import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  loadEnvoyProtos,
  releaseEnvoyProtos,
  validateEnvoyConfig,
  validateEnvoyFile,
  validateEnvoyYaml,
  validateRateLimitConfig,
  validateRateLimitFile,
  validateRateLimitYaml,
  type ValidationError,
} from '../src/envoy/validate';

const repo = path.resolve(__dirname, '../../..');
const ENVOY_YAML = path.join(repo, 'envoy/envoy.yaml');
const RATELIMIT_YAML = path.join(repo, 'envoy/ratelimit/config.yaml');

type Doc = any;
const original: Doc = parse(fs.readFileSync(ENVOY_YAML, 'utf8'));
const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
const ROUTES = `${HCM}.route_config.virtual_hosts[0].routes`;

/** Validates a copy of the real envoy.yaml after `change` breaks it. */
function brokenBy(change: (doc: Doc) => void, warnings?: ValidationError[]): ValidationError[] {
  const doc = structuredClone(original);
  change(doc);
  return validateEnvoyConfig(doc, { warnings });
}
const hcm = (doc: Doc) => doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const route = (doc: Doc, i: number) => hcm(doc).route_config.virtual_hosts[0].routes[i];
const httpFilter = (doc: Doc, name: string) => hcm(doc).http_filters.find((f: Doc) => f.name === name).typed_config;
const paths = (errors: ValidationError[]) => errors.map((e) => e.path);

describe('envoy.yaml', () => {
  test('validate_realEnvoyYaml_hasNoErrors', () => {
    expect(validateEnvoyFile(ENVOY_YAML)).toEqual([]);
  });

  test('loadEnvoyProtos_keepsOneRootUntilReleased_thenValidatesWithAFreshOne', () => {
    const first = loadEnvoyProtos();
    expect(loadEnvoyProtos()).toBe(first);
    releaseEnvoyProtos();
    const second = loadEnvoyProtos();
    expect(second).not.toBe(first);
    expect(second.lookupType('envoy.config.bootstrap.v3.Bootstrap')).toBeDefined();
    releaseEnvoyProtos();
    expect(validateEnvoyFile(ENVOY_YAML)).toEqual([]);
  });

  test('validate_realRateLimitConfig_hasNoErrors', () => {
    expect(validateRateLimitFile(RATELIMIT_YAML)).toEqual([]);
  });

  test('validate_whenFieldUnknownInCluster_reportsItsPathAndSuggestsTheField', () => {
    const errors = brokenBy((d) => (d.static_resources.clusters[0].circuit_breakers.thresholds[0].max_request = 10));
    expect(errors).toEqual([
      {
        path: 'static_resources.clusters[0].circuit_breakers.thresholds[0].max_request',
        message: 'unknown field "max_request" in envoy.config.cluster.v3.CircuitBreakers.Thresholds (did you mean "max_requests"?)',
      },
    ]);
  });

  test('validate_whenNumberGivenAnObject_reportsWrongType', () => {
    const errors = brokenBy((d) => (d.static_resources.clusters[2].circuit_breakers.thresholds[0].max_requests = { value: 5 }));
    expect(errors).toEqual([
      { path: 'static_resources.clusters[2].circuit_breakers.thresholds[0].max_requests', message: 'expected an integer (uint32), got an object' },
    ]);
  });

  test('validate_whenStringGivenABoolean_reportsWrongType', () => {
    const errors = brokenBy((d) => (hcm(d).stat_prefix = true));
    expect(errors).toEqual([{ path: `${HCM}.stat_prefix`, message: 'expected a string, got the boolean true' }]);
  });

  test('validate_whenStringGivenANumber_reportsWrongTypeInsidePerRouteTypedConfig', () => {
    const errors = brokenBy((d) => (hcm(d).route_config.virtual_hosts[0].typed_per_filter_config['envoy.filters.http.cors'].max_age = 86400));
    expect(paths(errors)).toEqual([`${HCM}.route_config.virtual_hosts[0].typed_per_filter_config["envoy.filters.http.cors"].max_age`]);
  });

  test('validate_whenUint32GivenAsDecimalStringOrFieldNamedInCamelCase_acceptsItLikeProto3Json', () => {
    const errors = brokenBy((d) => {
      d.static_resources.clusters[0].circuit_breakers.thresholds[0].max_requests = '1024';
      d.static_resources.clusters[0].connectTimeout = d.static_resources.clusters[0].connect_timeout;
      delete d.static_resources.clusters[0].connect_timeout;
    });
    expect(errors).toEqual([]);
  });

  test('validate_whenUint32Negative_reportsOutOfRange', () => {
    const errors = brokenBy((d) => (d.static_resources.clusters[0].circuit_breakers.thresholds[0].max_retries = -1));
    expect(errors).toEqual([
      {
        path: 'static_resources.clusters[0].circuit_breakers.thresholds[0].max_retries',
        message: '-1 is out of range for uint32 (0 to 4294967295)',
      },
    ]);
  });

  test('validate_whenEnumValueUnknown_reportsTheValidNames', () => {
    const errors = brokenBy((d) => (d.static_resources.clusters[1].lb_policy = 'FASTEST'));
    expect(paths(errors)).toEqual(['static_resources.clusters[1].lb_policy']);
    expect(errors[0].message).toMatch(/^unknown value "FASTEST" for enum envoy\.config\.cluster\.v3\.Cluster\.LbPolicy; expected one of ROUND_ROBIN, LEAST_REQUEST/);
  });

  test('validate_whenDurationMalformed_reportsDurationFormat', () => {
    const errors = brokenBy((d) => {
      d.static_resources.clusters[0].connect_timeout = '5 seconds';
      d.static_resources.clusters[0].outlier_detection.interval = 5;
    });
    expect(paths(errors)).toEqual(['static_resources.clusters[0].connect_timeout', 'static_resources.clusters[0].outlier_detection.interval']);
    expect(errors[0].message).toContain('expected a duration such as "1s"');
    expect(errors[1].message).toContain('got the number 5');
  });

  test('validate_whenTypedConfigTypeUnresolvable_reportsTheAtTypePath', () => {
    const errors = brokenBy((d) => {
      httpFilter(d, 'envoy.filters.http.grpc_web')['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWebb';
      httpFilter(d, 'envoy.filters.http.cors')['@type'] = 'envoy.extensions.filters.http.cors.v3.Cors';
    });
    expect(errors).toEqual([
      {
        path: `${HCM}.http_filters[0].typed_config["@type"]`,
        message: "unknown type envoy.extensions.filters.http.grpc_web.v3.GrpcWebb: no such message in Envoy's API protos",
      },
      {
        path: `${HCM}.http_filters[1].typed_config["@type"]`,
        message: '"envoy.extensions.filters.http.cors.v3.Cors" is not of the form type.googleapis.com/<full.message.Name>',
      },
    ]);
  });

  test('validate_whenTypedConfigHasNoAtType_reportsIt', () => {
    const errors = brokenBy((d) => delete httpFilter(d, 'envoy.filters.http.router')['@type']);
    expect(paths(errors)).toEqual([`${HCM}.http_filters[5].typed_config`]);
  });

  test('validate_whenFieldUnknownInsideTypedConfig_reportsPathThroughTheTypedConfig', () => {
    const errors = brokenBy((d) => {
      hcm(d).stat_prefixx = 'edge';
      httpFilter(d, 'envoy.filters.http.jwt_authn').providers.coursereg.clock_skew = 30;
    });
    expect(errors).toEqual([
      {
        path: `${HCM}.http_filters[2].typed_config.providers.coursereg.clock_skew`,
        message: 'unknown field "clock_skew" in envoy.extensions.filters.http.jwt_authn.v3.JwtProvider',
      },
      {
        path: `${HCM}.stat_prefixx`,
        message: 'unknown field "stat_prefixx" in envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager (did you mean "stat_prefix"?)',
      },
    ]);
  });

  test('validate_whenTwoMembersOfOneofSet_reportsTheSecond', () => {
    const errors = brokenBy((d) => (route(d, 0).match.prefix = '/coursereg.course.v1.CourseService/'));
    expect(paths(errors)).toEqual([`${ROUTES}[0].match.prefix`]);
    expect(errors[0].message).toMatch(/^"safe_regex" and "prefix" are both set, but only one member of oneof path_specifier/);
  });

  test('validate_whenRequiredOneofEmpty_reportsTheMessage', () => {
    const errors = brokenBy((d) => delete d.static_resources.clusters[0].health_checks[0].grpc_health_check);
    expect(errors).toEqual([
      {
        path: 'static_resources.clusters[0].health_checks[0]',
        message: 'one of http_health_check, tcp_health_check, grpc_health_check, custom_health_check is required (oneof health_checker)',
      },
    ]);
  });

  test('validate_whenValidateRulesBroken_reportsEachRule', () => {
    const errors = brokenBy((d) => {
      const cluster = d.static_resources.clusters[0];
      delete cluster.health_checks[0].timeout; // message.required
      cluster.outlier_detection.max_ejection_percent = 101; // UInt32Value with uint32.lte 100
      cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 70000; // uint32.lte 65535
      d.static_resources.clusters[1].connect_timeout = '0s'; // duration.gt 0
      hcm(d).route_config.virtual_hosts[0].domains = []; // repeated.min_items 1
    });
    expect(errors).toEqual([
      { path: `${HCM}.route_config.virtual_hosts[0].domains`, message: 'needs at least 1 item, has 0' },
      { path: 'static_resources.clusters[0].outlier_detection.max_ejection_percent', message: '101 must be at most 100' },
      { path: 'static_resources.clusters[0].health_checks[0].timeout', message: 'timeout is required' },
      {
        path: 'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value',
        message: '70000 must be at most 65535',
      },
      { path: 'static_resources.clusters[1].connect_timeout', message: '0s must be greater than 0s' },
    ]);
  });

  test('validate_whenRequiredStringMissing_reportsItAtItsDefault', () => {
    const errors = brokenBy((d) => delete d.static_resources.clusters[4].name);
    expect(errors).toContainEqual({ path: 'static_resources.clusters[4].name', message: '"" must not be empty' });
  });

  test('validate_whenRepeatedGivenAString_reportsExpectedList', () => {
    const errors = brokenBy((d) => (hcm(d).route_config.virtual_hosts[0].domains = '*'));
    expect(errors).toEqual([{ path: `${HCM}.route_config.virtual_hosts[0].domains`, message: 'expected a list, got the string "*"' }]);
  });

  test('validate_whenRouteOrGrpcServiceNamesUnknownCluster_reportsTheReference', () => {
    const errors = brokenBy((d) => {
      route(d, 0).route.cluster = 'courses';
      httpFilter(d, 'envoy.filters.http.ratelimit').rate_limit_service.grpc_service.envoy_grpc.cluster_name = 'rls';
    });
    expect(errors).toEqual([
      { path: `${ROUTES}[0].route.cluster`, message: 'unknown cluster "courses": no static cluster has that name' },
      {
        path: `${HCM}.http_filters[4].typed_config.rate_limit_service.grpc_service.envoy_grpc.cluster_name`,
        message: 'unknown cluster "rls": no static cluster has that name',
      },
    ]);
  });

  test('validate_whenClusterNameRepeated_reportsTheDuplicate', () => {
    const errors = brokenBy((d) => d.static_resources.clusters.push(structuredClone(d.static_resources.clusters[4])));
    expect(errors).toEqual([{ path: 'static_resources.clusters[5].name', message: 'duplicate cluster name "web"' }]);
  });

  test('validate_whenRouterIsNotTheLastHttpFilter_reportsIt', () => {
    const errors = brokenBy((d) => hcm(d).http_filters.reverse());
    expect(paths(errors)).toEqual([`${HCM}.http_filters[0]`, `${HCM}.http_filters[5]`]);
  });

  test('validate_whenRegexUsesLookaheadOrEscapesABackslash_rejectsOrWarns', () => {
    const warnings: ValidationError[] = [];
    const errors = brokenBy((d) => {
      route(d, 0).match.safe_regex.regex = '^/coursereg(?!\\.admin)/.*$';
      route(d, 2).match.safe_regex.regex = '^/coursereg\\\\.student/.*$';
    }, warnings);
    expect(errors).toEqual([{ path: `${ROUTES}[0].match.safe_regex.regex`, message: 'RE2 does not support lookaround or backreferences' }]);
    expect(paths(warnings)).toContain(`${ROUTES}[2].match.safe_regex.regex`);
  });

  test('validate_whenFieldDeprecated_warnsWithoutFailing', () => {
    const warnings: ValidationError[] = [];
    const errors = brokenBy((d) => (d.static_resources.clusters[0].max_requests_per_connection = 100), warnings);
    expect(errors).toEqual([]);
    expect(warnings).toContainEqual({
      path: 'static_resources.clusters[0].max_requests_per_connection',
      message: 'max_requests_per_connection is deprecated in envoy.config.cluster.v3.Cluster',
    });
  });

  test('validate_whenYamlHasSyntaxError_reportsItWithItsLine', () => {
    const errors = validateEnvoyYaml('static_resources:\n  clusters: [\n    { name: a\n');
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).toMatchObject({ path: '', message: expect.stringMatching(/^YAML: .*must be sufficiently indented and end with a [}\]]$/), line: 4 });
  });

  test('validate_whenYamlRepeatsAKey_reportsIt', () => {
    const errors = validateEnvoyYaml('admin:\n  address: {}\nadmin: {}\n');
    expect(errors).toEqual([{ path: '', message: 'YAML: Map keys must be unique', line: 3, column: 1 }]);
  });

  test('validate_fromYaml_locatesErrorsAtTheirKeyAndReadsYesAsBoolean', () => {
    const text = ['admin:', '  address:', '    socket_address:', '      address: 127.0.0.1', '      port_value: 9901', '      ipv4_compat: yes', '      bogus: 1', ''].join('\n');
    expect(validateEnvoyYaml(text)).toEqual([
      { path: 'admin.address.socket_address.bogus', message: 'unknown field "bogus" in envoy.config.core.v3.SocketAddress', line: 7, column: 7 },
    ]);
  });
});

describe('typed configs in their places', () => {
  const base = () => parse(fs.readFileSync('envoy/envoy.yaml', 'utf8'));
  const hcmOf = (doc: any) => doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  test.each([
    ['an HTTP filter configured with a route configuration', (doc: any) => (hcmOf(doc).http_filters[0].typed_config = { '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration' }), /cannot configure this: Envoy looks for a type from envoy\.extensions\.filters\.http\.\*/],
    ['an access log configured with a filter', (doc: any) => (hcmOf(doc).access_log[0].typed_config = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' }), /envoy\.extensions\.access_loggers\.\*/],
    [
      'protocol options under another type',
      (doc: any) => {
        const options = doc.static_resources.clusters[0].typed_extension_protocol_options;
        const [key] = Object.keys(options);
        options[key] = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' };
      },
      /does not match its key envoy\.extensions\.upstreams\.http\.v3\.HttpProtocolOptions/,
    ],
  ])('validate_%s_isAnError', (_what, spoil, message) => {
    const doc = base();
    spoil(doc);
    expect(validateEnvoyConfig(doc).map((e) => e.message)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  test('validate_enumNameInLowerCase_isReadAsEnvoyReadsIt', () => {
    const doc = base();
    doc.static_resources.clusters[0].lb_policy = 'least_request';
    expect(validateEnvoyConfig(doc)).toEqual([]);
  });
});

describe('durations as Envoy checks them at load', () => {
  const envoyText = fs.readFileSync('envoy/envoy.yaml', 'utf8');
  test.each([
    ['a negative route timeout', 'timeout: 15s', 'timeout: -1s', /is negative/],
    ['a negative per_try_timeout', 'per_try_timeout: 3s', 'per_try_timeout: -0.5s', /is negative/],
    ['a route timeout past int64 nanoseconds', 'timeout: 15s', 'timeout: 315576000000s', /out of range: Envoy takes at most 9223372035 s/],
  ])('validate_%s_isAnError', (_what, from, to, message) => {
    expect(envoyText).toContain(from);
    const errors = validateEnvoyYaml(envoyText.replace(from, to));
    expect(errors.map((e) => e.message)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  test('validate_zeroAndTheLongestDuration_areFine', () => {
    expect(validateEnvoyYaml(envoyText.replace('timeout: 15s', 'timeout: 0s'))).toEqual([]);
    expect(validateEnvoyYaml(envoyText.replace('timeout: 15s', 'timeout: 9223372035s'))).toEqual([]);
  });
});

describe('ratelimit config', () => {
  test('validateRateLimit_whenDomainMissingAndDescriptorsNotAList_reportsBoth', () => {
    expect(validateRateLimitConfig({ descriptors: { key: 'student' } })).toEqual([
      { path: 'domain', message: 'a non-empty string `domain` is required' },
      { path: 'descriptors', message: 'expected a list of descriptors, got an object' },
    ]);
  });

  test('validateRateLimit_whenDescriptorOrRateLimitBroken_reportsEachPath', () => {
    const errors = validateRateLimitConfig({
      domain: 'coursereg',
      descriptors: [
        { key: 'student', rate_limit: { unit: 'week', requests_per_unit: 20 } },
        { rate_limit: { unit: 'second', requests_per_unit: -1 } },
        { key: 'remote_address', rate_limit: { unit: 'second', requests_per_unit: 1.5, per: 'x' } },
        { key: 'student', descriptors: [{ key: 'route', rate_limit: { unit: 'Minute', requests_per_unit: '5' } }] },
        { key: 'exempt', rate_limit: { unlimited: true, unit: 'second' } },
      ],
    });
    expect(errors).toEqual([
      { path: 'descriptors[0].rate_limit.unit', message: 'unit must be one of second, minute, hour, day, got the string "week"' },
      { path: 'descriptors[1].key', message: 'a descriptor needs a non-empty string `key`' },
      { path: 'descriptors[1].rate_limit.requests_per_unit', message: 'requests_per_unit must be a whole number from 0 (refuse all) up, got the number -1' },
      { path: 'descriptors[2].rate_limit.per', message: 'unknown key "per"; expected one of unit, requests_per_unit, unlimited, name, replaces' },
      { path: 'descriptors[2].rate_limit.requests_per_unit', message: 'requests_per_unit must be a whole number from 0 (refuse all) up, got the number 1.5' },
      { path: 'descriptors[3]', message: 'duplicate descriptor student=' },
      {
        path: 'descriptors[3].descriptors[0].rate_limit.requests_per_unit',
        message: 'requests_per_unit must be a whole number from 0 (refuse all) up, got the string "5"',
      },
      { path: 'descriptors[4].rate_limit.unit', message: 'an unlimited rate_limit has no unit' },
    ]);
  });

  test('validateRateLimit_asTheServiceReadsIt_unitInAnyCase_zeroBlocks_unlimitedAlone', () => {
    expect(
      validateRateLimitConfig({
        domain: 'coursereg',
        descriptors: [
          { key: 'student', rate_limit: { unit: 'SECOND', requests_per_unit: 20 } },
          { key: 'remote_address', value: '50.0.0.5', rate_limit: { unit: 'Minute', requests_per_unit: 0 } },
          { key: 'remote_address', value: '10.0.0.1', rate_limit: { unlimited: true } },
        ],
      }),
    ).toEqual([]);
  });

  test('validateRateLimit_whenYamlBroken_reportsSyntaxErrorWithLine', () => {
    const errors = validateRateLimitYaml('domain: coursereg\ndescriptors:\n  - key: student\n   rate_limit: {unit: second\n');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ path: '', message: expect.stringMatching(/^YAML: /), line: expect.any(Number) });
  });
});
