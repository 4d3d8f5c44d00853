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
  DATABASE_POOL_SIZE: integer(1, 200, 10),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379/0'),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9_.:-]*$/).default('coursereg:'),
  AMQP_URL: z.string().url().default('amqp://guest:guest@127.0.0.1:5672/'),
  JWT_JWKS_FILE: z.string().default('.dev-keys/jwks.json'),
  JWT_PRIVATE_KEY_FILE: z.string().default('.dev-keys/private.jwk.json'),
  JWT_ISSUER: z.string().min(1).default('coursereg'),
  JWT_AUDIENCE: z.string().min(1).default('coursereg'),
  CATALOG_CACHE_TTL_SECONDS: integer(1, 86400, 300),
  SHUTDOWN_GRACE_MS: integer(0, 120000, 10000),
};

/**
 * A whole-number setting from `min` to `max`, `fallback` when unset. A value that is set but
 * empty (`PORT=` in a shell or an env file) is refused, not read as 0.
 */
export function integer(min: number, max: number, fallback: number) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return fallback;
      const text = raw.trim();
      const n = Number(text);
      if (text === '' || !Number.isInteger(n)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a whole number, got ${JSON.stringify(raw)}` });
        return z.NEVER;
      }
      if (n < min || n > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected ${min} to ${max}, got ${n}` });
        return z.NEVER;
      }
      return n;
    });
}

/** A TCP port setting with a default; 0 asks the OS for a free port. */
export function port(defaultPort: number) {
  return integer(0, 65535, defaultPort);
}

/** Whether a host:port's port is at most 65535 (the patterns take up to five digits). */
export function portInRange(hostPort: string): boolean {
  return Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)) <= 65535;
}

/** A host:port setting with a default. */
export function address(defaultAddress: string) {
  return z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port').refine(portInRange, 'the port is over 65535').default(defaultAddress);
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
