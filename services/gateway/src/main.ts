import { readJwks, TokenSigner, TokenVerifier } from '../../shared/src/auth';
import { onShutdownSignal } from '../../shared/src/lifecycle';
import { createLogger, type DestinationStream } from '../../shared/src/logger';
import { Metrics } from '../../shared/src/metrics';
import { createRedis } from '../../shared/src/redis';
import { readGatewayConfig } from './config';
import { devSignIn } from './dev/dev-tokens';
import { readGatewayPlan } from './envoy/plan';
import { releaseEnvoyProtos, validateEnvoyFile, validateRateLimitFile } from './envoy/validate';
import { GlobalRateLimits, LocalTokenBucket } from './limits/rate-limits';
import { listen, type Listening } from './listener';
import { createGateway, type PlainHandler } from './proxy/gateway';
import { useLeanAsyncResourceBind } from './proxy/async-resource-bind';
import { GatewayMetrics } from './proxy/metrics';
import { Cluster } from './proxy/upstream';
import { staticFiles } from './web/static-files';

export interface StartedGateway {
  port: number;
  metricsPort: number;
  upstreams: Map<string, Cluster>;
  /** gRPC calls the gateway is handling now, from their headers to their last byte. */
  readonly inFlight: number;
  stop(): Promise<void>;
}

/**
 * Starts the local gateway from envoy/envoy.yaml and envoy/ratelimit/config.yaml with the given
 * environment. Its log (and access log) goes to stdout, or to `logDestination` when given.
 */
export async function startGateway(env?: Record<string, string | undefined>, opts: { logDestination?: DestinationStream } = {}): Promise<StartedGateway> {
  const config = readGatewayConfig(env);
  const log = createLogger('gateway', config.LOG_LEVEL, opts.logDestination);
  // The same strict check CI runs (`npm run lint:envoy`): a config Envoy would reject is not served locally either.
  const problems = [...validateEnvoyFile(config.ENVOY_CONFIG_FILE), ...validateRateLimitFile(config.RATELIMIT_CONFIG_FILE)];
  // The gateway validates once, at start: the protos need not stay in its heap.
  releaseEnvoyProtos();
  if (problems.length > 0) {
    throw new Error(`invalid gateway configuration:\n${problems.map((p) => `  ${p.line ? `line ${p.line}: ` : ''}${p.path}: ${p.message}`).join('\n')}`);
  }
  const plan = readGatewayPlan(config.ENVOY_CONFIG_FILE, config.RATELIMIT_CONFIG_FILE);
  for (const item of plan.unsupported) log.warn({ item }, `envoy config: not implemented by the local gateway: ${item}`);
  // Node 20 pays for a deprecation wrapper on every upstream HTTP/2 request; see the module.
  if (useLeanAsyncResourceBind()) log.debug('AsyncResource.prototype.bind replaced by one without the DEP0172 accessors');

  // envoy.yaml names production hosts; locally each cluster runs at a configured address.
  const localAddresses: Record<string, string[]> = {
    course: config.COURSE_SERVICE_ADDR,
    student: config.STUDENT_SERVICE_ADDR,
    registration: config.REGISTRATION_SERVICE_ADDR,
  };
  const upstreams = new Map<string, Cluster>();
  const plainClusters = new Map<string, PlainHandler>();
  const web = staticFiles(config.WEB_DIST_DIR);
  for (const cluster of plan.clusters.values()) {
    if (cluster.name === 'web') {
      plainClusters.set('web', web.handler);
    } else if (cluster.name === 'ratelimit') {
      // The rate limit service's job is done in-process against Redis (GlobalRateLimits).
    } else if (cluster.http2) {
      const addresses = localAddresses[cluster.name] ?? cluster.addresses;
      upstreams.set(cluster.name, new Cluster(cluster, addresses, config.GATEWAY_UPSTREAM_CONNECTIONS, log));
    } else {
      log.warn({ cluster: cluster.name }, 'envoy config: cluster is neither gRPC nor the web client; not served locally');
    }
  }
  if (!web.built) log.warn({ dir: config.WEB_DIST_DIR }, 'the web client is not built; run `npm run build:web`');

  const redis = createRedis(config.REDIS_URL, config.REDIS_KEY_PREFIX);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis error'));
  const metrics = new Metrics('gateway');
  const gatewayMetrics = new GatewayMetrics(metrics, () => upstreams.values());
  const verifier = plan.jwt
    ? new TokenVerifier({
        jwks: readJwks(config.JWT_JWKS_FILE),
        issuer: plan.jwt.issuer,
        // As Envoy's provider: any of its audiences, and its clock_skew_seconds (60 unless set).
        audience: plan.jwt.audiences.length > 0 ? plan.jwt.audiences : config.JWT_AUDIENCE,
        clockToleranceSeconds: plan.jwt.clockSkewSeconds,
      })
    : undefined;
  const localLimits = new Map<string, LocalTokenBucket>();
  for (const r of plan.routes) if (r.localLimit) localLimits.set(r.name, new LocalTokenBucket(r.localLimit));
  const globalLimits = plan.rateLimit ? new GlobalRateLimits(plan.rateLimit, redis, plan.jwt?.payloadInMetadata, config.GATEWAY_RATELIMIT_PIPELINE_WINDOW_MS) : undefined;

  const signer = config.GATEWAY_DEV_TOKENS ? await TokenSigner.fromFile(config.JWT_PRIVATE_KEY_FILE, config.JWT_ISSUER, config.JWT_AUDIENCE) : undefined;
  // Development sign-in asks each student host in turn until one answers.
  const dev = devSignIn({ enabled: config.GATEWAY_DEV_TOKENS, signer, studentAddrs: config.STUDENT_SERVICE_ADDR, ttlSeconds: config.GATEWAY_DEV_TOKEN_TTL_SECONDS, log });
  if (config.GATEWAY_DEV_TOKENS) log.warn('development sign-in is ON (/dev/token): never enable it in production');

  const gateway = createGateway({
    plan,
    upstreams,
    verifier,
    globalLimits,
    localLimits,
    plainClusters,
    own: { prefix: '/dev/', handler: dev.handler },
    maxRequestBytes: config.GATEWAY_MAX_REQUEST_BYTES,
    metrics: gatewayMetrics,
    log,
  });
  // Cluster warming, as Envoy does it: every host with health checks has had its first before
  // the gateway takes calls, so a host that is down at start-up never gets one.
  await Promise.all([...upstreams.values()].map((u) => u.startHealthChecks()));
  // What start-up has opened so far, closed again if a port cannot be had.
  const release = () => {
    for (const u of upstreams.values()) u.close();
    dev.close();
    globalLimits?.close();
    redis.disconnect();
  };
  let server: Listening;
  try {
    server = await listen(config.GATEWAY_HOST, config.GATEWAY_PORT, plan.listener, gateway.handle, log);
  } catch (err) {
    release();
    throw new Error(`GATEWAY_HOST/GATEWAY_PORT ${config.GATEWAY_HOST}:${config.GATEWAY_PORT}: ${(err as Error).message}`);
  }
  let metricsServer: Awaited<ReturnType<Metrics['serve']>>;
  try {
    metricsServer = await metrics.serve(config.GATEWAY_HOST, config.GATEWAY_METRICS_PORT);
  } catch (err) {
    await server.close();
    release();
    throw new Error(`GATEWAY_METRICS_PORT ${config.GATEWAY_HOST}:${config.GATEWAY_METRICS_PORT}: ${(err as Error).message}`);
  }
  log.info({ port: server.port, metricsPort: metricsServer.port, upstreams: Object.fromEntries([...upstreams].map(([k, u]) => [k, u.hosts.map((h) => h.address)])) }, 'gateway listening');

  return {
    port: server.port,
    metricsPort: metricsServer.port,
    upstreams,
    get inFlight() {
      return gateway.inFlight;
    },
    /**
     * Drains like Envoy: no new connections, GOAWAY to HTTP/2 callers, and calls in
     * flight get up to SHUTDOWN_GRACE_MS to finish. Streams without a deadline already
     * answering, and any call still open when the grace period ends, are ended with UNAVAILABLE
     * so callers reopen them elsewhere; then every connection closes.
     */
    async stop() {
      server.drain();
      gateway.abortStreams('the gateway is shutting down; reconnect');
      // gRPC calls, and HTTP/1.1 answers such as a static file still downloading.
      if (!(await settles(() => gateway.inFlight === 0 && server.openAnswers === 0, config.SHUTDOWN_GRACE_MS))) {
        log.warn({ inFlight: gateway.inFlight, openAnswers: server.openAnswers }, 'grace period over: ending the calls still in flight');
        gateway.abortAll('the gateway is shutting down; call again');
        await settles(() => gateway.inFlight === 0, 1000);
      }
      await server.close();
      metricsServer.server.close();
      release();
    },
  };
}

/** Whether `done()` became true within `ms` (checked every 20 ms). */
async function settles(done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

if (require.main === module) {
  startGateway().then(
    (g) => onShutdownSignal(createLogger('gateway', 'info'), () => g.stop()),
    (err: unknown) => {
      console.error(`gateway failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
