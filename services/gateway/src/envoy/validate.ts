import fs from 'node:fs';
import path from 'node:path';
import { common, Enum, Field, MapField, parse, Root, Type, type OneOf } from 'protobufjs';
import { isMap, isSeq, LineCounter, type Document } from 'yaml';
import { parseEnvoyYamlDocument } from './yaml';

/** One problem found in a config: where it is (a JSON-ish path into the document) and what is wrong. */
export interface ValidationError {
  /** e.g. `static_resources.clusters[0].circuit_breakers.thresholds[0].max_requests`; empty for the whole document. */
  path: string;
  message: string;
  /** 1-based position in the YAML source, when the document came from YAML text. */
  line?: number;
  column?: number;
}

export interface ValidateOptions {
  /** Message the document must be; defaults to the Envoy bootstrap. */
  rootType?: string;
  /** Receives warnings (deprecated fields and values, suspicious regexes); they never fail validation. */
  warnings?: ValidationError[];
}

type Seg = string | number;
interface Issue {
  at: Seg[];
  message: string;
}
type Rules = Record<string, any>;

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
const DEPS = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const INCLUDE_DIRS = [
  ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(DEPS, d)),
  // google/protobuf/descriptor.proto, which protobufjs does not bundle as a common definition.
  path.dirname(require.resolve('protobufjs/package.json')),
];
const EXTRA_ENTRY_FILES = ['xds/type/v3/typed_struct.proto', 'udpa/type/v1/typed_struct.proto'];

let cachedRoot: Root | undefined;

/**
 * Envoy's v3 API (every `.../v3/*.proto` under the bundled envoy-api, with its imports) as one
 * protobufjs Root, loaded once per process. Field names are kept as written in the protos.
 */
export function loadEnvoyProtos(): Root {
  if (cachedRoot) return cachedRoot;
  const root = new Root();
  const seen = new Set<string>();
  const load = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const bundled = common.get(name);
    if (bundled) {
      root.addJSON(bundled.nested ?? {});
      return;
    }
    const file = INCLUDE_DIRS.map((dir) => path.join(dir, name)).find((f) => fs.existsSync(f));
    // A few tracer/stat-sink protos import OpenCensus/OpenTelemetry/Prometheus files that are not
    // bundled; their types stay unresolved and are reported only if a config uses them.
    if (!file) return;
    const parsed = parse(fs.readFileSync(file, 'utf8'), root, { keepCase: true });
    for (const imported of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) load(imported);
  };
  const apiDir = path.join(DEPS, 'envoy-api');
  // v2 and alpha leftovers import envoy/api/v2, which is not bundled; a v3 bootstrap cannot use them.
  for (const file of listProtoFiles(path.join(apiDir, 'envoy')).filter((f) => f.includes(`${path.sep}v3${path.sep}`))) {
    load(path.relative(apiDir, file).split(path.sep).join('/'));
  }
  for (const file of EXTRA_ENTRY_FILES) load(file);
  cachedRoot = root;
  return root;
}

/**
 * Lets the collector have the protos {@link loadEnvoyProtos} keeps (several MB of live heap that
 * every full collection would otherwise mark again); the next validation loads them again.
 */
export function releaseEnvoyProtos(): void {
  cachedRoot = undefined;
}

function listProtoFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return listProtoFiles(p);
    return p.endsWith('.proto') ? [p] : [];
  });
}

/**
 * Checks a parsed Envoy config (by default a v3 Bootstrap) the way Envoy loads YAML: proto3 JSON
 * mapping with unknown fields rejected, typed configs (`@type`) resolved and checked in turn, and
 * the protoc-gen-validate rules declared in the protos. Also checks that static clusters are
 * uniquely named and that the clusters routes and gRPC services name exist.
 */
export function validateEnvoyConfig(doc: unknown, opts: ValidateOptions = {}): ValidationError[] {
  const checker = checkEnvoyConfig(doc, opts.rootType);
  opts.warnings?.push(...checker.warnings.map(toError));
  return checker.errors.map(toError);
}

/** Parses Envoy YAML (as Envoy reads it: YAML 1.1 scalars, no merge keys) and validates it; syntax errors come back as errors. */
export function validateEnvoyYaml(text: string, opts: ValidateOptions = {}): ValidationError[] {
  const parsed = parseYaml(text);
  if (parsed.errors.length) return parsed.errors;
  const checker = checkEnvoyConfig(parsed.value, opts.rootType);
  opts.warnings?.push(...checker.warnings.map(parsed.locate));
  return checker.errors.map(parsed.locate);
}

function checkEnvoyConfig(doc: unknown, rootTypeName = BOOTSTRAP): Checker {
  const root = loadEnvoyProtos();
  const rootType = lookupMessage(root, rootTypeName);
  if (!rootType) throw new Error(`unknown message type ${rootTypeName}`);
  const checker = new Checker(root);
  if (doc === null || doc === undefined) checker.error([], `the document is empty; expected ${rootTypeName}`);
  else checker.message(rootType, doc, [], true);
  if (rootTypeName === BOOTSTRAP) checker.checkBootstrap(doc);
  return checker;
}

/** Reads and validates an Envoy YAML file; see {@link validateEnvoyYaml}. */
export function validateEnvoyFile(file: string, opts: ValidateOptions = {}): ValidationError[] {
  const text = readText(file);
  return typeof text === 'string' ? validateEnvoyYaml(text, opts) : [text];
}

// The units the rate limit service counts in (its UnitToDivider; rls.proto's MONTH and YEAR
// reach a panic there in the releases we checked). It upper-cases the name, so any case is read.
const RATE_LIMIT_UNITS = ['second', 'minute', 'hour', 'day'];
const RATE_LIMIT_KEYS = {
  config: ['domain', 'descriptors'],
  descriptor: ['key', 'value', 'rate_limit', 'descriptors', 'shadow_mode', 'detailed_metric'],
  rateLimit: ['unit', 'requests_per_unit', 'unlimited', 'name', 'replaces'],
};

/**
 * Checks a parsed envoyproxy/ratelimit config: a `domain` string and a `descriptors` list whose
 * entries (recursively) have a `key` and, where given, a `rate_limit` with a `unit` of
 * second|minute|hour|day (any case) and a whole `requests_per_unit`, or `unlimited`.
 */
export function validateRateLimitConfig(doc: unknown): ValidationError[] {
  return rateLimitIssues(doc).map(toError);
}

function rateLimitIssues(doc: unknown): Issue[] {
  const issues: Issue[] = [];
  const fail = (at: Seg[], message: string) => issues.push({ at, message });
  const knownKeys = (o: Record<string, unknown>, allowed: string[], at: Seg[]) => {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) fail([...at, k], `unknown key "${k}"; expected one of ${allowed.join(', ')}`);
  };
  const descriptors = (list: unknown, at: Seg[], required: boolean) => {
    if (list === undefined || list === null) {
      if (required) fail(at, 'a list of descriptors is required');
      return;
    }
    if (!Array.isArray(list)) return fail(at, `expected a list of descriptors, got ${describe(list)}`);
    const seen = new Set<string>();
    list.forEach((d, i) => {
      const here = [...at, i];
      if (!isObject(d)) return fail(here, `expected a descriptor object, got ${describe(d)}`);
      knownKeys(d, RATE_LIMIT_KEYS.descriptor, here);
      if (typeof d.key !== 'string' || d.key === '') fail([...here, 'key'], 'a descriptor needs a non-empty string `key`');
      if (d.value !== undefined && typeof d.value !== 'string') fail([...here, 'value'], `expected a string, got ${describe(d.value)}`);
      const id = `${String(d.key)}=${String(d.value ?? '')}`;
      if (seen.has(id)) fail(here, `duplicate descriptor ${id}`);
      seen.add(id);
      if (d.rate_limit !== undefined) rateLimit(d.rate_limit, [...here, 'rate_limit']);
      descriptors(d.descriptors, [...here, 'descriptors'], false);
    });
  };
  const rateLimit = (rl: unknown, at: Seg[]) => {
    if (!isObject(rl)) return fail(at, `expected an object with unit and requests_per_unit, got ${describe(rl)}`);
    knownKeys(rl, RATE_LIMIT_KEYS.rateLimit, at);
    if (rl.unlimited !== undefined && typeof rl.unlimited !== 'boolean') fail([...at, 'unlimited'], `expected true or false, got ${describe(rl.unlimited)}`);
    if (rl.unlimited === true) {
      // The service refuses to start with either: "should not specify rate limit unit when unlimited".
      if (rl.unit !== undefined) fail([...at, 'unit'], 'an unlimited rate_limit has no unit');
      if (rl.requests_per_unit !== undefined) fail([...at, 'requests_per_unit'], 'an unlimited rate_limit has no requests_per_unit');
      return;
    }
    if (typeof rl.unit !== 'string' || !RATE_LIMIT_UNITS.includes(rl.unit.toLowerCase())) {
      fail([...at, 'unit'], `unit must be one of ${RATE_LIMIT_UNITS.join(', ')}, got ${describe(rl.unit)}`);
    }
    const n = rl.requests_per_unit;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      fail([...at, 'requests_per_unit'], `requests_per_unit must be a whole number from 0 (refuse all) up, got ${describe(n)}`);
    }
  };

  if (!isObject(doc)) fail([], `expected a mapping with domain and descriptors, got ${describe(doc)}`);
  else {
    knownKeys(doc, RATE_LIMIT_KEYS.config, []);
    if (typeof doc.domain !== 'string' || doc.domain === '') fail(['domain'], 'a non-empty string `domain` is required');
    descriptors(doc.descriptors, ['descriptors'], true);
  }
  return issues;
}

/** Parses ratelimit YAML and validates it with {@link validateRateLimitConfig}. */
export function validateRateLimitYaml(text: string): ValidationError[] {
  const parsed = parseYaml(text);
  return parsed.errors.length ? parsed.errors : rateLimitIssues(parsed.value).map(parsed.locate);
}

/** Reads and validates a ratelimit YAML file. */
export function validateRateLimitFile(file: string): ValidationError[] {
  const text = readText(file);
  return typeof text === 'string' ? validateRateLimitYaml(text) : [text];
}

function readText(file: string): string | ValidationError {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { path: '', message: `cannot read ${file}: ${(err as Error).message}` };
  }
}

function parseYaml(text: string) {
  const lineCounter = new LineCounter();
  const doc = parseEnvoyYamlDocument(text, lineCounter);
  const errors: ValidationError[] = doc.errors.map((e) => ({
    path: '',
    message: `YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
    line: e.linePos?.[0].line,
    column: e.linePos?.[0].col,
  }));
  const locate = (issue: Issue): ValidationError => {
    const offset = sourceOffset(doc, issue.at);
    if (offset === undefined) return toError(issue);
    const { line, col } = lineCounter.linePos(offset);
    return { ...toError(issue), line, column: col };
  };
  return { value: errors.length ? undefined : (doc.toJS({ maxAliasCount: 1000 }) as unknown), errors, locate };
}

/** Offset of the deepest existing node on the path (the key, for mapping entries). */
function sourceOffset(doc: Document, at: Seg[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = doc.contents?.range?.[0];
  for (const seg of at) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown } | null)?.value) === String(seg));
      if (!pair) break;
      offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
      node = node.items[seg];
      offset = (node as { range?: [number, number, number] }).range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function formatPath(at: Seg[]): string {
  return at
    .map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : IDENT.test(seg) ? (i ? `.${seg}` : seg) : `[${JSON.stringify(seg)}]`))
    .join('');
}

function toError(issue: Issue): ValidationError {
  return { path: formatPath(issue.at), message: issue.message };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return Object.prototype.toString.call(v) === '[object Object]';
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (isObject(v)) return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  return String(v);
}

function typeName(t: Type | Enum): string {
  return t.fullName.slice(1);
}

function lookupMessage(root: Root, name: string): Type | undefined {
  const found = root.lookup(`.${name}`);
  return found instanceof Type ? found : undefined;
}

/** protobuf's json_name: drop underscores and upper-case the letter after each. */
function jsonName(name: string): string {
  return name.replace(/_(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''));
}

const fieldKeys = new WeakMap<Type, Map<string, Field>>();
function fieldsByKey(type: Type): Map<string, Field> {
  let keys = fieldKeys.get(type);
  if (!keys) {
    keys = new Map();
    for (const f of type.fieldsArray) {
      keys.set(f.name, f);
      keys.set(jsonName(f.name), f);
    }
    fieldKeys.set(type, keys);
  }
  return keys;
}

/** Every `(validate.rules)` option on a field, merged into one object. */
const fieldRules = new WeakMap<Field, Rules | null>();
function rulesOf(field: Field): Rules | undefined {
  if (!fieldRules.has(field)) {
    const declared = (field.parsedOptions as unknown as Array<Record<string, unknown>> | undefined) ?? [];
    const merged = declared.filter((o) => '(validate.rules)' in o).reduce<Rules | null>((acc, o) => deepMerge(acc ?? {}, o['(validate.rules)'] as Rules), null);
    fieldRules.set(field, merged);
  }
  return fieldRules.get(field) ?? undefined;
}

function deepMerge(a: Rules, b: Rules): Rules {
  const out: Rules = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Rules, v) : v;
  return out;
}

function oneofRequired(oneof: OneOf): boolean {
  return ((oneof.parsedOptions as unknown as Array<Record<string, unknown>> | undefined) ?? []).some((o) => o['(validate.required)'] === true);
}

function list(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

const INT_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

const WRAPPERS: Record<string, string> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};
/** Well-known types whose JSON form is not an object of their fields; inside an Any they sit under `value`. */
const SPECIAL_JSON = new Set([
  ...Object.keys(WRAPPERS),
  'google.protobuf.Any',
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
]);
const TYPED_STRUCTS = new Set(['xds.type.v3.TypedStruct', 'udpa.type.v1.TypedStruct']);
/**
 * Where a typed config must name a type of its own kind: Envoy finds the extension by the
 * config's type and unpacks it into that extension's proto, so an HTTP filter whose config is a
 * network filter's (or a route's) does not load. Values are the package the type must come
 * from, or `key` where the map key names the type (typed_extension_protocol_options).
 */
const ANY_PLACES: Record<string, string> = {
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter.typed_config': 'envoy.extensions.filters.http.',
  'envoy.config.listener.v3.Filter.typed_config': 'envoy.extensions.filters.network.',
  'envoy.config.accesslog.v3.AccessLog.typed_config': 'envoy.extensions.access_loggers.',
  'envoy.config.route.v3.RetryPolicy.RetryHostPredicate.typed_config': 'envoy.extensions.retry.host.',
  'envoy.config.route.v3.Route.typed_per_filter_config': 'envoy.extensions.filters.http.',
  'envoy.config.route.v3.VirtualHost.typed_per_filter_config': 'envoy.extensions.filters.http.',
  'envoy.config.core.v3.TransportSocket.typed_config': 'envoy.extensions.transport_sockets.',
  'envoy.config.cluster.v3.Cluster.typed_extension_protocol_options': 'key',
};
/** Typed configs that may stand anywhere: a Struct (read as the extension's own proto) and a route's FilterConfig wrapper. */
const ANY_ANYWHERE = new Set(['google.protobuf.Struct', 'envoy.config.route.v3.FilterConfig']);
const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'envoy.extensions.filters.http.router.v3.Router';
const TYPE_URL = /^type\.googleapis\.com\/([A-Za-z_][A-Za-z0-9_.]*)$/;
const NUMERIC_STRING = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^(?:NaN|-?Infinity)$/;
const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
// Envoy checks every Duration in a config as it loads it (MessageUtil::validate, through
// validateDurationFields): none may be negative, nor so long that its nanoseconds overflow int64.
const MAX_DURATION_SECONDS = 9_223_372_035n;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==?|[A-Za-z0-9+/]{3}=?)?$|^[A-Za-z0-9_-]*$/;
// protoc-gen-validate's well-known regexes for HTTP header names and values (strict, then loose).
const HEADER_REGEX: Record<string, [RegExp, RegExp]> = {
  HTTP_HEADER_NAME: [/^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/, /^[^\0\n\r]*$/],
  HTTP_HEADER_VALUE: [/^[^\0-\x08\n-\x1f\x7f]*$/, /^[^\0\n\r]*$/],
};
// Fields whose value names a cluster, by message: Envoy fails to load when a static one is missing.
const CLUSTER_REFERENCES: Record<string, string> = {
  'envoy.config.route.v3.RouteAction': 'cluster',
  'envoy.config.route.v3.WeightedCluster.ClusterWeight': 'name',
  'envoy.config.core.v3.GrpcService.EnvoyGrpc': 'cluster_name',
  'envoy.config.core.v3.HttpUri': 'cluster',
};

/** Walks a document alongside its protobuf type, collecting errors and warnings. */
class Checker {
  readonly errors: Issue[] = [];
  readonly warnings: Issue[] = [];
  private readonly clusterRefs: Array<{ at: Seg[]; name: string }> = [];
  private validateRouteClusters = true;

  constructor(private readonly root: Root) {}

  error(at: Seg[], message: string): void {
    this.errors.push({ at, message });
  }

  warn(at: Seg[], message: string): void {
    this.warnings.push({ at, message });
  }

  /** A value whose declared type is the message `type` (well-known types included). */
  value(type: Type, v: unknown, at: Seg[], rules: Rules | undefined, pgv: boolean): void {
    const name = typeName(type);
    if (name in WRAPPERS) return this.scalar(WRAPPERS[name], v, at, pgv ? rules : undefined);
    switch (name) {
      case 'google.protobuf.Any':
        return this.any(v, at, pgv ? rules?.any : undefined, pgv);
      case 'google.protobuf.Duration':
        return this.duration(v, at, pgv ? rules?.duration : undefined);
      case 'google.protobuf.Timestamp':
        if (typeof v !== 'string' || !TIMESTAMP.test(v) || Number.isNaN(Date.parse(v))) {
          this.error(at, `expected an RFC 3339 timestamp such as "2025-01-31T12:00:00Z", got ${describe(v)}`);
        }
        return;
      case 'google.protobuf.FieldMask':
        if (typeof v !== 'string') this.error(at, `expected a field mask string such as "a.b,c", got ${describe(v)}`);
        return;
      case 'google.protobuf.Struct':
        if (!isObject(v)) this.error(at, `expected an object, got ${describe(v)}`);
        return;
      case 'google.protobuf.ListValue':
        if (!Array.isArray(v)) this.error(at, `expected a list, got ${describe(v)}`);
        return;
      case 'google.protobuf.Value':
        return;
    }
    this.message(type, v, at, pgv && !rules?.message?.skip);
  }

  message(type: Type, v: unknown, at: Seg[], pgv: boolean): void {
    const name = typeName(type);
    if (!isObject(v)) return this.error(at, `expected an object (${name}), got ${describe(v)}`);
    const keys = fieldsByKey(type);
    const given = new Map<Field, string>();
    const present = new Set<Field>();
    const oneofKeys = new Map<OneOf, string>();
    const outerValidateRouteClusters = this.validateRouteClusters;
    // Envoy checks the clusters a static route table names unless it sets validate_clusters: false.
    if (name === 'envoy.config.route.v3.RouteConfiguration') this.validateRouteClusters = (v.validate_clusters ?? v.validateClusters) !== false;

    for (const [key, fieldValue] of Object.entries(v)) {
      const here = [...at, key];
      const field = keys.get(key);
      if (!field) {
        this.error(here, `unknown field "${key}" in ${name}${suggestion(key, type)}`);
        continue;
      }
      if (given.has(field)) {
        this.error(here, `field ${field.name} is given twice (as "${given.get(field)}" and "${key}")`);
        continue;
      }
      given.set(field, key);
      // proto3 JSON: null leaves a field unset.
      if (fieldValue === null) continue;
      present.add(field);
      const oneof = field.partOf;
      if (oneof) {
        const first = oneofKeys.get(oneof);
        if (first !== undefined) this.error(here, `"${first}" and "${key}" are both set, but only one member of oneof ${oneof.name} (${oneof.fieldsArray.map((f) => f.name).join(', ')}) may be`);
        else oneofKeys.set(oneof, key);
      }
      if (field.options?.deprecated) {
        if (field.options['(envoy.annotations.disallowed_by_default)']) this.error(here, `${field.name} is deprecated and disallowed by default in ${name}`);
        else this.warn(here, `${field.name} is deprecated in ${name}`);
      }
      this.field(field, fieldValue, here, pgv);
      const place = ANY_PLACES[`${name}.${field.name}`];
      if (place) this.anyPlacement(place, field instanceof MapField, fieldValue, here);
      if (CLUSTER_REFERENCES[name] === field.name && typeof fieldValue === 'string' && (!name.startsWith('envoy.config.route.') || this.validateRouteClusters)) {
        this.clusterRefs.push({ at: here, name: fieldValue });
      }
      if (name === 'envoy.type.matcher.v3.RegexMatcher' && field.name === 'regex' && typeof fieldValue === 'string') this.regex(fieldValue, here);
    }

    this.validateRouteClusters = outerValidateRouteClusters;
    if (name === HCM) this.filterOrder(v, 'http_filters', at, ROUTER, true);
    if (name === 'envoy.config.listener.v3.FilterChain') this.filterOrder(v, 'filters', at, HCM, false);
    if (!pgv || type.options?.['(validate.disabled)'] || type.options?.['(validate.ignored)']) return;
    for (const oneof of type.oneofsArray) {
      if (!oneofKeys.has(oneof) && oneofRequired(oneof)) this.error(at, `one of ${oneof.fieldsArray.map((f) => f.name).join(', ')} is required (oneof ${oneof.name})`);
    }
    for (const field of type.fieldsArray) if (!present.has(field)) this.absent(field, [...at, field.name]);
  }

  /** A typed config (or a map of them) whose type must be of the kind its place takes (see ANY_PLACES). */
  private anyPlacement(place: string, isMap: boolean, v: unknown, at: Seg[]): void {
    const check = (item: unknown, here: Seg[], key?: string) => {
      if (!isObject(item) || typeof item['@type'] !== 'string') return;
      let url = item['@type'];
      let urlAt: Seg[] = [...here, '@type'];
      const outer = url.slice(url.lastIndexOf('/') + 1);
      if (TYPED_STRUCTS.has(outer)) {
        if (typeof item.type_url !== 'string') return;
        url = item.type_url;
        urlAt = [...here, 'type_url'];
      }
      const type = url.slice(url.lastIndexOf('/') + 1);
      if (ANY_ANYWHERE.has(type)) return;
      if (place === 'key') {
        if (key !== undefined && key !== type) this.error(urlAt, `${type} does not match its key ${key}: Envoy unpacks these options into the type their key names`);
      } else if (!type.startsWith(place)) {
        this.error(urlAt, `${type} cannot configure this: Envoy looks for a type from ${place}* here`);
      }
    };
    if (!isMap) return check(v, at);
    if (isObject(v)) for (const [k, item] of Object.entries(v)) check(item, [...at, k], k);
  }

  private field(field: Field, v: unknown, at: Seg[], pgv: boolean): void {
    const rules = pgv ? rulesOf(field) : undefined;
    try {
      field.resolve();
    } catch {
      return this.error(at, `cannot check ${field.name}: its type ${field.type} is not in the bundled Envoy API protos`);
    }
    if (field instanceof MapField) {
      if (!isObject(v)) return this.error(at, `expected an object (map of ${field.keyType} to ${field.type}), got ${describe(v)}`);
      for (const [k, item] of Object.entries(v)) {
        const here = [...at, k];
        this.mapKey(field.keyType, k, here, rules?.map?.keys);
        if (item === null) this.error(here, 'map values cannot be null');
        else this.single(field, item, here, rules?.map?.values, pgv);
      }
      return this.mapRules(rules?.map, Object.keys(v).length, at);
    }
    if (field.repeated) {
      if (!Array.isArray(v)) return this.error(at, `expected a list, got ${describe(v)}`);
      v.forEach((item, i) => {
        if (item === null) this.error([...at, i], 'list items cannot be null');
        else this.single(field, item, [...at, i], rules?.repeated?.items, pgv);
      });
      return this.repeatedRules(rules?.repeated, v, at);
    }
    this.single(field, v, at, rules, pgv);
  }

  private single(field: Field, v: unknown, at: Seg[], rules: Rules | undefined, pgv: boolean): void {
    const t = field.resolvedType;
    if (t instanceof Enum) this.enumValue(t, v, at, rules?.enum);
    else if (t instanceof Type) this.value(t, v, at, rules, pgv);
    else this.scalar(field.type, v, at, rules);
  }

  /** PGV rules for a field the document leaves out: proto3 scalars are checked at their default value. */
  private absent(field: Field, at: Seg[]): void {
    const rules = rulesOf(field);
    if (!rules) return;
    if (field instanceof MapField) return this.mapRules(rules.map, 0, at);
    if (field.repeated) return this.repeatedRules(rules.repeated, [], at);
    if (field.partOf) return;
    if (rules.message?.required || rules.duration?.required || rules.any?.required || rules.timestamp?.required) return this.error(at, `${field.name} is required`);
    try {
      field.resolve();
    } catch {
      return;
    }
    if (field.resolvedType instanceof Type) return;
    if (field.resolvedType instanceof Enum) return this.enumRules(rules.enum, 0, at);
    const kind = field.type;
    if (kind === 'string') return this.stringRules(rules.string, '', at);
    if (kind === 'bytes') return this.bytesRules(rules.bytes, 0, at);
    if (kind === 'bool') return this.boolRules(rules.bool, false, at);
    this.numberRules(rules[kind], kind in INT_RANGES ? 0n : 0, at);
  }

  private scalar(kind: string, v: unknown, at: Seg[], rules: Rules | undefined): void {
    if (kind === 'string') {
      if (typeof v !== 'string') return this.error(at, `expected a string, got ${describe(v)}${typeof v === 'number' ? ' (quote it)' : ''}`);
      return this.stringRules(rules?.string, v, at);
    }
    if (kind === 'bool') {
      if (typeof v !== 'boolean') return this.error(at, `expected true or false, got ${describe(v)}`);
      return this.boolRules(rules?.bool, v, at);
    }
    if (kind === 'bytes') {
      if (typeof v !== 'string' || !BASE64.test(v)) return this.error(at, `expected base64-encoded bytes, got ${describe(v)}`);
      return this.bytesRules(rules?.bytes, Buffer.from(v, 'base64').length, at);
    }
    if (kind === 'double' || kind === 'float') {
      const n = typeof v === 'number' ? v : typeof v === 'string' && NUMERIC_STRING.test(v) ? Number(v) : undefined;
      if (n === undefined) return this.error(at, `expected a number, got ${describe(v)}`);
      if (kind === 'float' && Number.isFinite(n) && Math.abs(n) > 3.4028234663852886e38) return this.error(at, `${n} is out of range for a float`);
      return this.numberRules(rules?.[kind], n, at);
    }
    const range = INT_RANGES[kind];
    if (!range) return this.error(at, `cannot check values of type ${kind}`);
    let n: bigint;
    if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
    else if (typeof v === 'string' && /^-?\d+$/.test(v)) n = BigInt(v);
    else return this.error(at, `expected an integer (${kind}), got ${describe(v)}`);
    if (n < range[0] || n > range[1]) return this.error(at, `${n} is out of range for ${kind} (${range[0]} to ${range[1]})`);
    this.numberRules(rules?.[kind], n, at);
  }

  private mapKey(kind: string, key: string, at: Seg[], rules: Rules | undefined): void {
    if (kind === 'bool' && key !== 'true' && key !== 'false') return this.error(at, `map key must be "true" or "false"`);
    if (kind in INT_RANGES) return this.scalar(kind, key, at, rules);
    if (kind === 'string') this.stringRules(rules?.string, key, at);
  }

  private enumValue(e: Enum, v: unknown, at: Seg[], rules: Rules | undefined): void {
    let num: number;
    // Envoy parses enum names case-insensitively (case_insensitive_enum_parsing): "least_request" is LEAST_REQUEST.
    if (typeof v === 'string' && !(v in e.values) && v.toUpperCase() in e.values) v = v.toUpperCase();
    if (typeof v === 'string') {
      if (!(v in e.values)) {
        const names = Object.keys(e.values);
        const shown = names.length > 12 ? `${names.slice(0, 12).join(', ')}, …` : names.join(', ');
        return this.error(at, `unknown value "${v}" for enum ${typeName(e)}; expected one of ${shown}`);
      }
      num = e.values[v];
      const options = (e.valuesOptions?.[v] ?? {}) as Record<string, unknown>;
      if (options['(envoy.annotations.disallowed_by_default_enum)']) this.error(at, `${v} is deprecated and disallowed by default in ${typeName(e)}`);
      else if (options.deprecated) this.warn(at, `${v} is deprecated in ${typeName(e)}`);
    } else if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 2 ** 31) {
      num = v;
    } else {
      return this.error(at, `expected a value name of enum ${typeName(e)}, got ${describe(v)}`);
    }
    if (!Object.values(e.values).includes(num)) {
      if (rules?.defined_only) return this.error(at, `${num} is not a defined value of enum ${typeName(e)}`);
      this.warn(at, `${num} is not a defined value of enum ${typeName(e)}`);
    }
    this.enumRules(rules, num, at);
  }

  private any(v: unknown, at: Seg[], rules: Rules | undefined, pgv: boolean): void {
    if (!isObject(v)) return this.error(at, `expected a typed config object with "@type", got ${describe(v)}`);
    const url = v['@type'];
    const typeAt = [...at, '@type'];
    if (url === undefined) return this.error(at, `missing "@type" (type.googleapis.com/<full.message.Name>)`);
    if (typeof url !== 'string') return this.error(typeAt, `expected a type URL string, got ${describe(url)}`);
    const m = TYPE_URL.exec(url);
    if (!m) return this.error(typeAt, `"${url}" is not of the form type.googleapis.com/<full.message.Name>`);
    if (rules?.in && !list(rules.in).includes(url)) return this.error(typeAt, `${url} is not allowed here; expected one of ${list(rules.in).join(', ')}`);
    if (rules?.not_in && list(rules.not_in).includes(url)) return this.error(typeAt, `${url} is not allowed here`);
    const type = lookupMessage(this.root, m[1]);
    if (!type) return this.error(typeAt, `unknown type ${m[1]}: no such message in Envoy's API protos`);
    const { ['@type']: _, ...rest } = v;
    const name = typeName(type);
    if (SPECIAL_JSON.has(name)) {
      for (const k of Object.keys(rest)) if (k !== 'value') this.error([...at, k], `unknown field "${k}" in ${name} (its JSON form goes under "value")`);
      if (rest.value === undefined || rest.value === null) return this.error([...at, 'value'], `${name} needs its value under "value"`);
      return this.value(type, rest.value, [...at, 'value'], undefined, pgv);
    }
    this.message(type, rest, at, pgv);
    if (TYPED_STRUCTS.has(name) && typeof rest.type_url === 'string') {
      const inner = lookupMessage(this.root, rest.type_url.slice(rest.type_url.lastIndexOf('/') + 1));
      if (!inner) this.error([...at, 'type_url'], `unknown type ${rest.type_url}: no such message in Envoy's API protos`);
      else if (rest.value === undefined || isObject(rest.value)) this.message(inner, rest.value ?? {}, [...at, 'value'], pgv);
    }
  }

  private duration(v: unknown, at: Seg[], rules: Rules | undefined): void {
    const m = typeof v === 'string' ? DURATION.exec(v) : null;
    if (!m) return this.error(at, `expected a duration such as "1s", "0.05s" or "3600s" (decimal seconds ending in s), got ${describe(v)}`);
    const seconds = BigInt(m[2]);
    if (m[1] && (seconds > 0n || /[1-9]/.test(m[3] ?? ''))) return this.error(at, `duration ${String(v)} is negative: Envoy refuses negative durations`);
    if (seconds > MAX_DURATION_SECONDS) return this.error(at, `duration ${String(v)} is out of range: Envoy takes at most ${MAX_DURATION_SECONDS} s`);
    const nanos = (seconds * 1_000_000_000n + BigInt((m[3] ?? '').padEnd(9, '0'))) * (m[1] ? -1n : 1n);
    if (!rules) return;
    const asNanos = (d: unknown) => {
      const { seconds: s = 0, nanos: n = 0 } = (d ?? {}) as { seconds?: number | string; nanos?: number };
      return BigInt(s) * 1_000_000_000n + BigInt(n);
    };
    this.bounds(rules, nanos, at, asNanos, formatNanos);
  }

  /** Envoy refuses a chain whose terminal filter is not last (and, for HTTP, one that does not end in the router). */
  private filterOrder(owner: Record<string, unknown>, field: string, at: Seg[], terminal: string, mustEndWithIt: boolean): void {
    const key = field in owner ? field : jsonName(field);
    const filters = owner[key];
    if (!Array.isArray(filters) || filters.length === 0) return;
    const typeUrl = (f: unknown) => {
      const config = isObject(f) ? (f.typed_config ?? f.typedConfig) : undefined;
      return isObject(config) && typeof config['@type'] === 'string' ? config['@type'] : undefined;
    };
    const terminalUrl = `type.googleapis.com/${terminal}`;
    const last = filters.length - 1;
    filters.forEach((f, i) => {
      if (i < last && typeUrl(f) === terminalUrl) this.error([...at, key, i], `${terminal} is a terminal filter and must be the last in the chain`);
    });
    const lastUrl = typeUrl(filters[last]);
    if (mustEndWithIt && lastUrl !== undefined && lastUrl !== terminalUrl) this.error([...at, key, last], `the last HTTP filter must be the router (${terminal})`);
  }

  private regex(re: string, at: Seg[]): void {
    if (/\(\?(?:=|!|<=|<!)|\\[1-9]/.test(re)) return this.error(at, 'RE2 does not support lookaround or backreferences');
    try {
      new RegExp(re.replace(/\(\?P</g, '(?<'));
    } catch (err) {
      return this.error(at, `invalid regex: ${(err as Error).message}`);
    }
    if (re.includes('\\\\')) {
      this.warn(at, 'regex contains "\\\\", which matches a literal backslash; plain and single-quoted YAML keep backslashes as written, so a literal dot there is "\\."');
    }
  }

  private stringRules(r: Rules | undefined, s: string, at: Seg[]): void {
    if (!r || (r.ignore_empty && s === '')) return;
    const chars = [...s].length;
    const bytes = Buffer.byteLength(s);
    const fail = (why: string) => this.error(at, `${JSON.stringify(s)} ${why}`);
    if (r.const !== undefined && s !== r.const) fail(`must be ${JSON.stringify(r.const)}`);
    if (r.len !== undefined && chars !== Number(r.len)) fail(`must be ${r.len} characters long`);
    if (r.min_len !== undefined && chars < Number(r.min_len)) fail(s === '' ? 'must not be empty' : `must be at least ${r.min_len} characters long`);
    if (r.max_len !== undefined && chars > Number(r.max_len)) fail(`must be at most ${r.max_len} characters long`);
    if (r.len_bytes !== undefined && bytes !== Number(r.len_bytes)) fail(`must be ${r.len_bytes} bytes long`);
    if (r.min_bytes !== undefined && bytes < Number(r.min_bytes)) fail(`must be at least ${r.min_bytes} bytes long`);
    if (r.max_bytes !== undefined && bytes > Number(r.max_bytes)) fail(`must be at most ${r.max_bytes} bytes long`);
    if (r.prefix !== undefined && !s.startsWith(r.prefix)) fail(`must start with ${JSON.stringify(r.prefix)}`);
    if (r.suffix !== undefined && !s.endsWith(r.suffix)) fail(`must end with ${JSON.stringify(r.suffix)}`);
    if (r.contains !== undefined && !s.includes(r.contains)) fail(`must contain ${JSON.stringify(r.contains)}`);
    if (r.not_contains !== undefined && s.includes(r.not_contains)) fail(`must not contain ${JSON.stringify(r.not_contains)}`);
    if (r.in !== undefined && !list(r.in).includes(s)) fail(`must be one of ${list(r.in).map((x) => JSON.stringify(x)).join(', ')}`);
    if (r.not_in !== undefined && list(r.not_in).includes(s)) fail('is not allowed');
    if (r.pattern !== undefined && !new RegExp(r.pattern).test(s)) fail(`must match /${r.pattern}/`);
    const header = HEADER_REGEX[r.well_known_regex as string];
    if (header && !header[r.strict === false ? 1 : 0].test(s)) fail(`is not a valid ${r.well_known_regex === 'HTTP_HEADER_NAME' ? 'HTTP header name' : 'HTTP header value'}`);
  }

  private bytesRules(r: Rules | undefined, length: number, at: Seg[]): void {
    if (!r || (r.ignore_empty && length === 0)) return;
    if (r.len !== undefined && length !== Number(r.len)) this.error(at, `must be ${r.len} bytes long`);
    if (r.min_len !== undefined && length < Number(r.min_len)) this.error(at, `must be at least ${r.min_len} bytes long`);
    if (r.max_len !== undefined && length > Number(r.max_len)) this.error(at, `must be at most ${r.max_len} bytes long`);
  }

  private boolRules(r: Rules | undefined, b: boolean, at: Seg[]): void {
    if (r?.const !== undefined && b !== r.const) this.error(at, `must be ${r.const}`);
  }

  private numberRules(r: Rules | undefined, n: number | bigint, at: Seg[]): void {
    if (!r || (r.ignore_empty && Number(n) === 0)) return;
    const asNumber = typeof n === 'bigint' ? (x: unknown) => BigInt(String(x)) : (x: unknown) => Number(x);
    this.bounds(r, n, at, asNumber, String);
  }

  private enumRules(r: Rules | undefined, n: number, at: Seg[]): void {
    if (!r) return;
    if (r.const !== undefined && n !== Number(r.const)) this.error(at, `must be ${r.const}`);
    if (r.in !== undefined && !list(r.in).map(Number).includes(n)) this.error(at, `must be one of ${list(r.in).join(', ')}`);
    if (r.not_in !== undefined && list(r.not_in).map(Number).includes(n)) this.error(at, n === 0 ? 'is required (the default value is not allowed)' : `${n} is not allowed`);
  }

  /** const / lt / lte / gt / gte / in / not_in, shared by numbers and durations. */
  private bounds<T extends number | bigint>(r: Rules, n: T, at: Seg[], conv: (x: unknown) => T, show: (x: T) => string): void {
    const fail = (why: string) => this.error(at, `${show(n)} ${why}`);
    if (r.const !== undefined && n !== conv(r.const)) fail(`must be ${show(conv(r.const))}`);
    if (r.lt !== undefined && !(n < conv(r.lt))) fail(`must be less than ${show(conv(r.lt))}`);
    if (r.lte !== undefined && !(n <= conv(r.lte))) fail(`must be at most ${show(conv(r.lte))}`);
    if (r.gt !== undefined && !(n > conv(r.gt))) fail(`must be greater than ${show(conv(r.gt))}`);
    if (r.gte !== undefined && !(n >= conv(r.gte))) fail(`must be at least ${show(conv(r.gte))}`);
    if (r.in !== undefined && !list(r.in).map(conv).includes(n)) fail(`must be one of ${list(r.in).map(conv).map(show).join(', ')}`);
    if (r.not_in !== undefined && list(r.not_in).map(conv).includes(n)) fail('is not allowed');
  }

  private repeatedRules(r: Rules | undefined, items: unknown[], at: Seg[]): void {
    if (!r || (r.ignore_empty && items.length === 0)) return;
    if (r.min_items !== undefined && items.length < Number(r.min_items)) this.error(at, `needs at least ${r.min_items} item${Number(r.min_items) === 1 ? '' : 's'}, has ${items.length}`);
    if (r.max_items !== undefined && items.length > Number(r.max_items)) this.error(at, `allows at most ${r.max_items} items, has ${items.length}`);
    if (r.unique && new Set(items.map((i) => JSON.stringify(i))).size !== items.length) this.error(at, 'items must be unique');
  }

  private mapRules(r: Rules | undefined, pairs: number, at: Seg[]): void {
    if (!r || (r.ignore_empty && pairs === 0)) return;
    if (r.min_pairs !== undefined && pairs < Number(r.min_pairs)) this.error(at, `needs at least ${r.min_pairs} entr${Number(r.min_pairs) === 1 ? 'y' : 'ies'}, has ${pairs}`);
    if (r.max_pairs !== undefined && pairs > Number(r.max_pairs)) this.error(at, `allows at most ${r.max_pairs} entries, has ${pairs}`);
  }

  /** Bootstrap-level checks Envoy makes when it builds the cluster manager and the filter chains. */
  checkBootstrap(doc: unknown): void {
    if (!isObject(doc)) return;
    const statics = isObject(doc.static_resources) ? doc.static_resources : {};
    const uniqueNames = (key: 'clusters' | 'listeners') => {
      const names = new Set<string>();
      (Array.isArray(statics[key]) ? statics[key] : []).forEach((item: unknown, i: number) => {
        const name = isObject(item) ? item.name : undefined;
        if (typeof name !== 'string') return;
        if (names.has(name)) this.error(['static_resources', key, i, 'name'], `duplicate ${key.slice(0, -1)} name "${name}"`);
        names.add(name);
      });
      return names;
    };
    const names = uniqueNames('clusters');
    uniqueNames('listeners');
    const dynamic = isObject(doc.dynamic_resources) && (doc.dynamic_resources.cds_config !== undefined || doc.dynamic_resources.ads_config !== undefined);
    for (const ref of this.clusterRefs) {
      if (names.has(ref.name)) continue;
      const message = `unknown cluster "${ref.name}": no static cluster has that name`;
      if (dynamic) this.warn(ref.at, `${message} (it may come from CDS)`);
      else this.error(ref.at, message);
    }
  }

}

function formatNanos(n: bigint): string {
  const sign = n < 0n ? '-' : '';
  const abs = n < 0n ? -n : n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${abs / 1_000_000_000n}${frac ? `.${frac}` : ''}s`;
}

/** ` (did you mean "x"?)` when a field of the type is one or two edits away. */
function suggestion(key: string, type: Type): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const f of type.fieldsArray) {
    const d = editDistance(key, f.name);
    if (d < bestDistance) [best, bestDistance] = [f.name, d];
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
