import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { authInterceptor, type TokenVerifier } from './auth';
import { AppError, toServiceError } from './errors';
import type { Logger } from './logger';
import type { Metrics } from './metrics';

export const PROTO_ROOT = join(__dirname, '..', '..', '..', 'proto');

/** One gRPC service to host: its generated definition, implementation and full name. */
export interface HostedService {
  name: string;
  protoFile: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export interface RunningServer {
  server: grpc.Server;
  port: number;
  health: HealthImplementation;
  /** Stops accepting calls, lets in-flight calls finish for up to graceMs, then cuts the rest. */
  shutdown(graceMs: number): Promise<void>;
}

const OPEN_PATHS = /^\/grpc\.(health|reflection)\./;

/**
 * Starts a gRPC server with the given services plus health checking and server
 * reflection; every call passes the metrics and authentication interceptors.
 */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  services: HostedService[];
  verifier: TokenVerifier;
  metrics: Metrics;
  log: Logger;
}): Promise<RunningServer> {
  const server = new grpc.Server({
    interceptors: [opts.metrics.interceptor(), authInterceptor(opts.verifier, (p) => OPEN_PATHS.test(p))],
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    'grpc.keepalive_time_ms': 60_000,
  });
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  const pkg = protoLoader.loadSync(
    [...opts.services.map((s) => s.protoFile), healthProtoPath],
    { includeDirs: [PROTO_ROOT], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
  );
  new ReflectionService(pkg).addToServer(server);
  for (const s of opts.services) {
    server.addService(s.definition, s.implementation);
    health.setStatus(s.name, 'NOT_SERVING');
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  health.setStatus('', 'SERVING');
  for (const s of opts.services) health.setStatus(s.name, 'SERVING');

  return {
    server,
    port,
    health,
    async shutdown(graceMs: number) {
      health.setStatus('', 'NOT_SERVING');
      for (const s of opts.services) health.setStatus(s.name, 'NOT_SERVING');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          opts.log.warn('grace period over; cancelling remaining calls');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

function logFailure(log: Logger, method: string, err: unknown): void {
  if (!(err instanceof AppError)) log.error({ err, method }, 'unexpected error in handler');
}

/**
 * Adapts an async handler to grpc-js's callback style, mapping thrown errors to
 * gRPC statuses with google.rpc details.
 *
 * @example
 *   GetSection: unary(log, 'GetSection', async (call) => ({ section: await sections.get(call.request.id) })),
 */
export function unary<Req, Res>(
  log: Logger,
  method: string,
  fn: (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call).then(
      (res) => callback(null, res),
      (err: unknown) => {
        logFailure(log, method, err);
        callback(toServiceError(err));
      },
    );
  };
}

/**
 * Adapts an async server-streaming handler: it writes with `call.write` and
 * resolves when the stream should end; a thrown error ends it with a status.
 */
export function serverStream<Req, Res>(
  log: Logger,
  method: string,
  fn: (call: grpc.ServerWritableStream<Req, Res>) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    fn(call).then(
      () => call.end(),
      (err: unknown) => {
        logFailure(log, method, err);
        if (!call.cancelled) call.emit('error', toServiceError(err));
      },
    );
  };
}
