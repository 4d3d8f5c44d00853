import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair } from 'jose';
import Redis from 'ioredis';
import { TokenSigner, type Role } from '../src/auth';
import { dropDatabase } from '../src/db';
import { decodeServiceError, type DecodedError } from '../src/errors';

const PG = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/**
 * An isolated world for one test file: its own database, Redis key prefix and
 * signing keys, and an environment map to start real services with.
 */
export interface TestEnv {
  env: Record<string, string>;
  databaseUrl: string;
  keyPrefix: string;
  signer: TokenSigner;
  /** Bearer metadata for a role and subject. */
  auth(role: Role, subject?: string, ttlSeconds?: number): Promise<grpc.Metadata>;
  /** Signs with a key the services do not trust. */
  forgedAuth(role: Role, subject: string): Promise<grpc.Metadata>;
  cleanup(): Promise<void>;
}

export async function createTestEnv(name: string): Promise<TestEnv> {
  const id = `${name}_${process.pid}_${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const dbUrl = new URL(PG);
  dbUrl.pathname = `/coursereg_test_${id}`;
  const keyPrefix = `coursereg-test:${id}:`;
  const dir = mkdtempSync(join(tmpdir(), 'coursereg-test-'));
  const makeKeys = async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    return { pub: { ...(await exportJWK(publicKey)), kid: id, alg: 'ES256' }, priv: { ...(await exportJWK(privateKey)), kid: id, alg: 'ES256' } };
  };
  const trusted = await makeKeys();
  const untrusted = await makeKeys();
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [trusted.pub] }));
  writeFileSync(join(dir, 'private.jwk.json'), JSON.stringify(trusted.priv));
  const signer = await TokenSigner.fromJwk(trusted.priv, 'coursereg', 'coursereg');
  const forger = await TokenSigner.fromJwk(untrusted.priv, 'coursereg', 'coursereg');
  const bearer = (token: string) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    return md;
  };
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: REDIS,
    REDIS_KEY_PREFIX: keyPrefix,
    JWT_JWKS_FILE: join(dir, 'jwks.json'),
    JWT_PRIVATE_KEY_FILE: join(dir, 'private.jwk.json'),
    SHUTDOWN_GRACE_MS: '2000',
    COURSE_GRPC_ADDR: '127.0.0.1:0',
    COURSE_METRICS_PORT: '0',
    STUDENT_GRPC_ADDR: '127.0.0.1:0',
    STUDENT_METRICS_PORT: '0',
  };
  return {
    env,
    databaseUrl: dbUrl.toString(),
    keyPrefix,
    signer,
    auth: async (role, subject = role === 'student' ? 'S0001' : `${role}-1`, ttl) => bearer(await signer.sign(subject, role, ttl)),
    forgedAuth: async (role, subject) => bearer(await forger.sign(subject, role)),
    async cleanup() {
      await dropDatabase(dbUrl.toString());
      const redis = new Redis(REDIS);
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Turns a callback-style generated client call into a promise.
 *
 * @example
 *   const { term } = await rpc<GetTermResponse>((cb) => client.getTerm({ code }, md, cb));
 */
export function rpc<Res>(invoke: (cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    invoke((err, res) => (err ? reject(err) : resolve(res)));
  });
}

type UnaryMethod<Req, Res> = (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => grpc.ClientUnaryCall;

/** A generated client's unary methods as promise-returning functions of (request, metadata). */
export type PromiseClient<C> = {
  [K in keyof C]: C[K] extends UnaryMethod<infer Req, infer Res> ? (req: Req, md: grpc.Metadata) => Promise<Res> : never;
};

/**
 * Wraps a generated grpc-js client so tests can `await api.getTerm({ code }, md)`.
 */
export function promiseClient<C extends grpc.Client>(client: C): PromiseClient<C> {
  return new Proxy(client, {
    get(target, prop) {
      const fn = (target as unknown as Record<string | symbol, unknown>)[prop];
      if (typeof fn !== 'function') return fn;
      return (req: unknown, md: grpc.Metadata) =>
        new Promise((resolve, reject) => {
          (fn as (...a: unknown[]) => unknown).call(target, req, md, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res)));
        });
    },
  }) as unknown as PromiseClient<C>;
}

/** Awaits a call that must fail, and returns its decoded error. */
export async function rpcError(promise: Promise<unknown>): Promise<DecodedError> {
  try {
    await promise;
  } catch (err) {
    return decodeServiceError(err as grpc.ServiceError);
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/**
 * Creates a RabbitMQ vhost of its own for a test run (with rabbitmqctl, as the
 * local broker's administrator) and returns its AMQP URL and a remover.
 */
export function createTestVhost(name: string): { amqpUrl: string; remove(): void } {
  const vhost = `coursereg_test_${name}_${process.pid}_${randomBytes(3).toString('hex')}`;
  execFileSync('rabbitmqctl', ['-q', 'add_vhost', vhost]);
  execFileSync('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);
  const base = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  return {
    amqpUrl: `${base}/${encodeURIComponent(vhost)}`,
    remove: () => execFileSync('rabbitmqctl', ['-q', 'delete_vhost', vhost]),
  };
}
