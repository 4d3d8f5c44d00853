import { z } from 'zod';
import { integer, loadConfig, port, portInRange } from '../../shared/src/config';

/** One host:port, or several separated by commas (one per host of the cluster). */
function addresses(defaultValue: string) {
  return z
    .string()
    .regex(/^[^\s:,]+:\d{1,5}(,[^\s:,]+:\d{1,5})*$/, 'expected host:port, or several separated by commas')
    .refine((v) => v.split(',').every(portInRange), 'a port is over 65535')
    .default(defaultValue)
    .transform((v) => v.split(','));
}

/** HTTP/2 connections per upstream host unless GATEWAY_UPSTREAM_CONNECTIONS says otherwise (the benchmark's bare proxy uses it too). */
export const DEFAULT_UPSTREAM_CONNECTIONS = 1;

const flag = z
  .enum(['true', 'false', '1', '0'])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

/**
 * The local gateway's settings. Routes, clusters, limits and CORS come from
 * envoy/envoy.yaml and envoy/ratelimit/config.yaml; these settings only say
 * where those files and the local upstreams are.
 */
export function readGatewayConfig(env?: Record<string, string | undefined>) {
  return loadConfig(
    {
      GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
      GATEWAY_PORT: port(8080),
      GATEWAY_METRICS_PORT: port(9455),
      ENVOY_CONFIG_FILE: z.string().min(1).default('envoy/envoy.yaml'),
      RATELIMIT_CONFIG_FILE: z.string().min(1).default('envoy/ratelimit/config.yaml'),
      // Local addresses of the clusters that envoy.yaml names by their production DNS names;
      // several comma-separated host:port make a cluster of that many hosts.
      COURSE_SERVICE_ADDR: addresses('127.0.0.1:50051'),
      STUDENT_SERVICE_ADDR: addresses('127.0.0.1:50052'),
      REGISTRATION_SERVICE_ADDR: addresses('127.0.0.1:50053'),
      // Where the built web client is (the `web` cluster in envoy.yaml).
      WEB_DIST_DIR: z.string().min(1).default('web/dist'),
      // Development sign-in (/dev/identities, /dev/token). Never enable in production.
      GATEWAY_DEV_TOKENS: flag,
      GATEWAY_DEV_TOKEN_TTL_SECONDS: integer(60, 86400, 8 * 3600),
      // HTTP/2 connections per upstream host that calls take in turn (capped by the cluster's
      // max_connections). One, as Envoy's pool keeps per host and worker: every call then
      // shares its writes, and the service reads them in fewer, larger batches. More open only
      // while each carries the cluster's max_concurrent_streams.
      GATEWAY_UPSTREAM_CONNECTIONS: integer(1, 64, DEFAULT_UPSTREAM_CONNECTIONS),
      // Limit checks wait up to this long for each other, to reach Redis in one write (like the
      // rate limit service's REDIS_PIPELINE_WINDOW); 0 batches only the checks made in the same tick.
      GATEWAY_RATELIMIT_PIPELINE_WINDOW_MS: integer(0, 50, 1),
      GATEWAY_MAX_REQUEST_BYTES: integer(1024, 64 * 1024 * 1024, 4 * 1024 * 1024),
    },
    env,
  );
}

export type GatewayConfig = ReturnType<typeof readGatewayConfig>;
