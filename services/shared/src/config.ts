import { z } from 'zod';

/**
 * Settings every coursereg process understands. Each service's config.ts extends
 * this with its own keys and calls {@link loadConfig} once at start-up.
 *
 * @example
 *   export const config = loadConfig({ COURSE_GRPC_PORT: port(50051) });
 */
export const baseConfigShape = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/coursereg'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379/0'),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]*$/).default('coursereg:'),
  AMQP_URL: z.string().url().default('amqp://guest:guest@127.0.0.1:5672/'),
  JWT_JWKS_FILE: z.string().default('.dev-keys/jwks.json'),
  JWT_PRIVATE_KEY_FILE: z.string().default('.dev-keys/private.jwk.json'),
  JWT_ISSUER: z.string().min(1).default('coursereg'),
  JWT_AUDIENCE: z.string().min(1).default('coursereg'),
  CATALOG_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).max(86400).default(300),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(120000).default(10000),
};

/** A TCP port setting with a default; 0 asks the OS for a free port. */
export function port(defaultPort: number) {
  return z.coerce.number().int().min(0).max(65535).default(defaultPort);
}

/** A host:port setting with a default. */
export function address(defaultAddress: string) {
  return z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port').default(defaultAddress);
}

export type BaseConfig = z.infer<z.ZodObject<typeof baseConfigShape>>;

/**
 * Reads the environment once, validates it and returns a frozen object. A bad
 * value stops the process with a message naming every offending variable.
 */
export function loadConfig<S extends z.ZodRawShape>(
  extra: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<BaseConfig & z.infer<z.ZodObject<S>>> {
  const schema = z.object({ ...baseConfigShape, ...extra });
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data) as Readonly<BaseConfig & z.infer<z.ZodObject<S>>>;
}
