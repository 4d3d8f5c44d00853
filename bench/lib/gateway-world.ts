import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { isMap, isSeq, parseDocument, type YAMLMap } from 'yaml';
import { seed } from '../../scripts/seed/run';
import { ensureDevKeys } from '../../services/shared/src/devkeys';
import { dropDatabase } from '../../services/shared/src/db';
import { RESULTS_DIR, ROOT } from './config';

/**
 * The gateway benchmark's own world, separate from the rush benchmark's and the
 * development setup: database `coursereg_bench_gw`, Redis prefix
 * `coursereg-bench-gw:`, signing keys under bench/results/.keys-gateway.
 */
export const gatewayBenchConfig = Object.freeze({
  databaseUrl: process.env.BENCH_GW_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/coursereg_bench_gw',
  redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0',
  redisKeyPrefix: process.env.BENCH_GW_REDIS_KEY_PREFIX ?? 'coursereg-bench-gw:',
  logLevel: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn',
  keysDir: join(RESULTS_DIR, '.keys-gateway'),
  envoyFile: join(ROOT, 'envoy', 'envoy.yaml'),
  rateLimitFile: join(ROOT, 'envoy', 'ratelimit', 'config.yaml'),
});

export interface GatewayWorld {
  databaseUrl: string;
  jwksFile: string;
  privateKeyFile: string;
  studentIds: string[];
  courses: number;
  termCode: string;
}

/** Drops and reseeds the database, empties the Redis prefix, makes sure the signing keys exist. */
export async function createGatewayWorld(students: number): Promise<GatewayWorld> {
  const c = gatewayBenchConfig;
  const jwksFile = join(c.keysDir, 'jwks.json');
  const privateKeyFile = join(c.keysDir, 'private.jwk.json');
  await ensureDevKeys(jwksFile, privateKeyFile);
  await dropDatabase(c.databaseUrl);
  await flushPrefix();
  const data = await seed({ databaseUrl: c.databaseUrl, redisUrl: c.redisUrl, keyPrefix: c.redisKeyPrefix, students, onlyIfEmpty: false });
  if (!data) throw new Error('seeding loaded nothing');
  return { databaseUrl: c.databaseUrl, jwksFile, privateKeyFile, studentIds: data.students.map((s) => s.id), courses: data.courses.length, termCode: data.term.code };
}

/** Drops the database and empties the Redis prefix. */
export async function dropGatewayWorld(): Promise<void> {
  await dropDatabase(gatewayBenchConfig.databaseUrl);
  await flushPrefix();
}

/** Deletes every key under the benchmark's Redis prefix. */
export async function flushPrefix(): Promise<number> {
  const redis = new Redis(gatewayBenchConfig.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${gatewayBenchConfig.redisKeyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

export interface RateLimitCopy {
  file: string;
  /** requests per second of each descriptor key, as written. */
  limits: Record<string, number>;
  /** What was changed, for the report. */
  changes: string[];
}

/**
 * Writes envoy/ratelimit/config.yaml to `dir` with the `remote_address` limit set to
 * `addressLimit` per second (all benchmark traffic comes from 127.0.0.1) and every
 * other limit, the per-student one included, left as it is.
 */
export function writeRateLimitCopy(dir: string, addressLimit: number): RateLimitCopy {
  const doc = parseDocument(readFileSync(gatewayBenchConfig.rateLimitFile, 'utf8'));
  const descriptors = doc.get('descriptors');
  if (!isSeq(descriptors)) throw new Error(`${gatewayBenchConfig.rateLimitFile}: no descriptors list`);
  const limits: Record<string, number> = {};
  const changes: string[] = [];
  for (const d of descriptors.items) {
    if (!isMap(d)) continue;
    const key = String(d.get('key'));
    const rl = d.get('rate_limit') as YAMLMap | undefined;
    if (!isMap(rl)) continue;
    const unit = String(rl.get('unit'));
    const perUnit = Number(rl.get('requests_per_unit'));
    const perSecond = perUnit / ({ second: 1, minute: 60, hour: 3600, day: 86400 }[unit] ?? 1);
    if (key === 'remote_address') {
      rl.set('unit', 'second');
      rl.set('requests_per_unit', addressLimit);
      changes.push(`remote_address: ${perUnit}/${unit} -> ${addressLimit}/second`);
      limits[key] = addressLimit;
    } else {
      limits[key] = perSecond;
    }
  }
  if (!changes.length) throw new Error(`${gatewayBenchConfig.rateLimitFile}: no remote_address descriptor to raise`);
  const file = join(dir, 'ratelimit-config.yaml');
  writeFileSync(file, `# Written by bench/gateway.ts from envoy/ratelimit/config.yaml: ${changes.join('; ')}.\n${doc.toString()}`);
  return { file, limits, changes };
}

export interface EnvoyCopy {
  file: string;
  /** The measured route's local token bucket as written. */
  bucket: { maxTokens: number; tokensPerFill: number; fillInterval: string };
  changes: string[];
}

/**
 * Writes envoy/envoy.yaml to `dir`, with the local token bucket of `route` raised to
 * `tokensPerFill` per fill (and twice that as the burst) if `raise` is set; the bucket
 * still runs on every call. Everything else is copied as it is.
 */
export function writeEnvoyCopy(dir: string, route: string, raise: number | undefined): EnvoyCopy {
  const doc = parseDocument(readFileSync(gatewayBenchConfig.envoyFile, 'utf8'));
  const hcm = doc.getIn(['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config']) as YAMLMap;
  const routes = doc.getIn(['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters', 0, 'typed_config', 'route_config', 'virtual_hosts', 0, 'routes']);
  if (!isMap(hcm) || !isSeq(routes)) throw new Error(`${gatewayBenchConfig.envoyFile}: unexpected layout (no route list)`);
  const r = routes.items.find((x) => isMap(x) && x.get('name') === route) as YAMLMap | undefined;
  if (!r) throw new Error(`${gatewayBenchConfig.envoyFile}: no route named ${route}`);
  const bucket = r.getIn(['typed_per_filter_config', 'envoy.filters.http.local_ratelimit', 'token_bucket']) as YAMLMap | undefined;
  const changes: string[] = [];
  let out = { maxTokens: Infinity, tokensPerFill: Infinity, fillInterval: '-' };
  if (isMap(bucket)) {
    out = { maxTokens: Number(bucket.get('max_tokens')), tokensPerFill: Number(bucket.get('tokens_per_fill')), fillInterval: String(bucket.get('fill_interval')) };
    if (raise !== undefined) {
      changes.push(`route ${route} local token bucket: ${out.tokensPerFill} per ${out.fillInterval} (max ${out.maxTokens}) -> ${raise} per ${out.fillInterval} (max ${2 * raise})`);
      bucket.set('tokens_per_fill', raise);
      bucket.set('max_tokens', 2 * raise);
      out = { ...out, maxTokens: 2 * raise, tokensPerFill: raise };
    }
  }
  const file = join(dir, 'envoy.yaml');
  writeFileSync(file, `# Written by bench/gateway.ts from envoy/envoy.yaml${changes.length ? `: ${changes.join('; ')}` : ' (unchanged)'}.\n${doc.toString()}`);
  return { file, bucket: out, changes };
}
