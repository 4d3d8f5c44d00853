import type { Api } from '../api/client';
import type { DevAuthApi } from '../api/devAuth';

type Overrides = {
  course?: Partial<Api['course']>;
  student?: Partial<Api['student']>;
  registration?: Partial<Api['registration']>;
  dev?: Partial<DevAuthApi>;
};

function group<T extends object>(name: string, impl: Partial<T> = {}): T {
  return new Proxy(impl, {
    get(target, prop) {
      if (prop in target) return (target as Record<string | symbol, unknown>)[prop];
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return () => {
        throw new Error(`the test did not fake ${name}.${prop}`);
      };
    },
  }) as T;
}

/**
 * A fake Api for component tests: only the calls a test names exist; any other
 * call throws, naming itself, so a test never silently depends on an unfaked call.
 */
export function fakeApi(overrides: Overrides = {}): Api {
  return {
    course: group('course', overrides.course),
    student: group('student', overrides.student),
    registration: group('registration', overrides.registration),
    dev: group('dev', overrides.dev),
  };
}

const b64url = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** An unsigned JWT with the claims the client reads (the client never verifies signatures). */
export function fakeToken(claims: { sub: string; role: string; exp?: number }): string {
  return `${b64url({ alg: 'ES256', typ: 'JWT' })}.${b64url({ iss: 'coursereg', aud: 'coursereg', exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}.c2ln`;
}

/** In-memory Storage. */
export function memoryStorage() {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  };
}
