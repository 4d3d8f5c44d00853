import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grpc as grpcWeb } from '@improbable-eng/grpc-web';
import { NodeHttpTransport } from '@improbable-eng/grpc-web-node-http-transport';
import { CourseServiceClientImpl, GrpcWebImpl as CourseWeb } from '../../../gen/web/coursereg/course/v1/course_service';
import { GrpcWebImpl, RegistrationServiceClientImpl } from '../../../gen/web/coursereg/registration/v1/registration_service';
import { decodeStatus } from '../../shared/src/errors';
import { startRegistrationWorld, type RegistrationWorld } from '../../registration/test/registration.fixtures';
import type { DestinationStream } from '../../shared/src/logger';
import { startGateway, type StartedGateway } from '../src/main';

export interface GatewayWorld extends RegistrationWorld {
  gateway: StartedGateway;
  origin: string;
  webDir: string;
  /** gRPC-web clients (the browser's generated code) through the gateway. */
  web: { registration: RegistrationServiceClientImpl; course: CourseServiceClientImpl };
  /** gRPC-web metadata carrying a bearer token. */
  bearer(token: string): grpcWeb.Metadata;
  token(role: 'student' | 'registrar', subject: string, ttlSeconds?: number): Promise<string>;
  stopAll(): Promise<void>;
}

/** A copy of envoy/envoy.yaml with `change` applied to its text, in a directory of its own: `file` is for ENVOY_CONFIG_FILE, `remove()` deletes it. */
export function changedEnvoyConfig(change: (yaml: string) => string): { file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'coursereg-envoy-'));
  const file = join(dir, 'envoy.yaml');
  writeFileSync(file, change(readFileSync('envoy/envoy.yaml', 'utf8')));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A gateway's environment in front of a registration world, on ports the system picks. */
export function gatewayEnvFor(world: RegistrationWorld, webDir: string, extraEnv: Record<string, string> = {}): Record<string, string> {
  return {
    ...world.env.env,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_METRICS_PORT: '0',
    REGISTRATION_SERVICE_ADDR: world.registrationAddr,
    WEB_DIST_DIR: webDir,
    ...extraEnv,
  };
}

/** Starts the registration world, a tiny built "web client", and a gateway in front of them. */
export async function startGatewayWorld(name: string, extraEnv: Record<string, string> = {}, logDestination?: DestinationStream): Promise<GatewayWorld> {
  const world = await startRegistrationWorld(name);
  const webDir = mkdtempSync(join(tmpdir(), 'coursereg-web-'));
  mkdirSync(join(webDir, 'assets'));
  writeFileSync(join(webDir, 'index.html'), '<!doctype html><title>coursereg</title><div id="root"></div>');
  writeFileSync(join(webDir, 'assets', 'app.js'), 'console.log("coursereg")');
  const gateway = await startGateway(gatewayEnvFor(world, webDir, extraEnv), { logDestination });
  const origin = `http://127.0.0.1:${gateway.port}`;
  const transport = NodeHttpTransport();
  return Object.assign(world, {
    gateway,
    origin,
    webDir,
    web: {
      registration: new RegistrationServiceClientImpl(new GrpcWebImpl(origin, { transport })),
      course: new CourseServiceClientImpl(new CourseWeb(origin, { transport })),
    },
    bearer: (token: string) => new grpcWeb.Metadata({ authorization: `Bearer ${token}` }),
    token: (role: 'student' | 'registrar', subject: string, ttlSeconds?: number) => world.env.signer.sign(subject, role, ttlSeconds),
    async stopAll() {
      await gateway.stop();
      rmSync(webDir, { recursive: true, force: true });
      await world.stop();
    },
  });
}

/** The code and ErrorInfo reason of a gRPC-web error (as the browser client sees it). */
export function webError(err: unknown): { code: number; reason?: string; retryAfter?: string; message: string } {
  const e = err as { code: number; message: string; metadata?: grpcWeb.Metadata };
  const { reason } = decodeStatus(e.code, e.message, e.metadata?.get('grpc-status-details-bin')?.[0]);
  return { code: e.code, reason, retryAfter: e.metadata?.get('retry-after')?.[0], message: e.message };
}

/** Awaits a promise expected to fail and returns what the browser would see. */
export async function webFailure(p: Promise<unknown>): Promise<ReturnType<typeof webError>> {
  try {
    await p;
  } catch (err) {
    return webError(err);
  }
  throw new Error('expected the call to fail');
}
