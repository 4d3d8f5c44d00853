import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, errors as joseErrors, type JWK, type JSONWebKeySet, type KeyLike } from 'jose';
import { AppError, permissionDenied, toServiceError, unauthenticated } from './errors';

export type Role = 'student' | 'registrar' | 'service';
const ROLES: ReadonlySet<string> = new Set(['student', 'registrar', 'service']);

/** Who is calling, as proven by a verified token. */
export interface Principal {
  subject: string;
  role: Role;
  /** For students: their student id (the token subject). */
  studentId?: string;
  expiresAt: number;
}

export interface AuthSettings {
  jwks: JSONWebKeySet;
  issuer: string;
  /** The audience a token must name; with several, any one of them. */
  audience: string | string[];
  /** Seconds a token is still accepted past its expiry, and before its not-before (clock skew); 0 unless set. */
  clockToleranceSeconds?: number;
}

/** Reads the public key set the services trust. */
export function readJwks(file: string): JSONWebKeySet {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as JSONWebKeySet;
  } catch (err) {
    throw new Error(`cannot read the JWT key set at ${file} (run \`npm start\` once to create dev keys, or set JWT_JWKS_FILE): ${(err as Error).message}`);
  }
}

const MAX_CACHED_TOKENS = 50_000;

/**
 * Verifies bearer tokens (asymmetric signatures, issuer, audience, expiry) and
 * remembers verified claims until the token expires, so the hot path pays for a
 * signature check once per token rather than once per call.
 */
export class TokenVerifier {
  private readonly keySet;
  private readonly cache = new Map<string, Principal>();

  constructor(private readonly settings: AuthSettings, private readonly now: () => number = Date.now) {
    this.keySet = createLocalJWKSet(settings.jwks);
  }

  /** The principal of a token verified before and not yet expired, without waiting; undefined otherwise (then use verify). */
  cached(token: string): Principal | undefined {
    const cached = this.cache.get(token);
    return cached && this.live(cached) ? cached : undefined;
  }

  /** Whether a verified token has not yet expired, allowing the clock skew. */
  private live(p: Principal): boolean {
    return (p.expiresAt + (this.settings.clockToleranceSeconds ?? 0)) * 1000 > this.now();
  }

  async verify(token: string): Promise<Principal> {
    const cached = this.cache.get(token);
    if (cached) {
      if (this.live(cached)) return cached;
      this.cache.delete(token);
      throw unauthenticated('TOKEN_EXPIRED', 'the token has expired');
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keySet, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ['ES256', 'EdDSA', 'RS256'],
        currentDate: new Date(this.now()),
        clockTolerance: this.settings.clockToleranceSeconds ?? 0,
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthenticated('TOKEN_EXPIRED', 'the token has expired');
      throw unauthenticated('TOKEN_INVALID', 'the token is not valid');
    }
    const role = payload.role;
    if (typeof payload.sub !== 'string' || payload.sub === '' || typeof role !== 'string' || !ROLES.has(role)) {
      throw unauthenticated('TOKEN_INVALID', 'the token lacks a subject or a known role');
    }
    if (typeof payload.exp !== 'number') throw unauthenticated('TOKEN_INVALID', 'the token has no expiry');
    const principal: Principal = {
      subject: payload.sub,
      role: role as Role,
      studentId: role === 'student' ? payload.sub : undefined,
      expiresAt: payload.exp,
    };
    if (this.cache.size >= MAX_CACHED_TOKENS) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(token, principal);
    return principal;
  }

  /** Verifies the `authorization: Bearer <jwt>` entry of call metadata. */
  async verifyMetadata(metadata: grpc.Metadata): Promise<Principal> {
    const header = metadata.get('authorization')[0];
    if (typeof header !== 'string' || header === '') throw unauthenticated('TOKEN_MISSING', 'a bearer token is required');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw unauthenticated('TOKEN_INVALID', 'authorization must be "Bearer <token>"');
    return this.verify(match[1]);
  }
}

const principals = new WeakMap<grpc.Metadata, Principal>();

/**
 * A grpc-js server interceptor that refuses calls without a valid token before
 * any handler runs, and records the caller for {@link principalOf}. Paths in
 * `open` (health, reflection) need no token.
 */
export function authInterceptor(verifier: TokenVerifier, open: (path: string) => boolean): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    if (open(methodDescriptor.path)) return new grpc.ServerInterceptingCall(call);
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        verifier.verifyMetadata(metadata).then(
          (principal) => {
            principals.set(metadata, principal);
            next(metadata);
          },
          (err: unknown) => {
            const e = toServiceError(err);
            call.sendStatus({ code: e.code!, details: e.details!, metadata: e.metadata! });
          },
        );
      })
      .build();
    // A method, not an arrow in a property: tsx (esbuild keepNames) would name every such arrow
    // with Object.defineProperty, once per call.
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next(listener);
      },
    });
  };
}

/** The verified caller of a call that passed {@link authInterceptor}. */
export function principalOf(call: { metadata: grpc.Metadata }): Principal {
  const p = principals.get(call.metadata);
  if (!p) throw new AppError(grpc.status.UNAUTHENTICATED, 'TOKEN_MISSING', 'the call was not authenticated');
  return p;
}

/** Throws PERMISSION_DENIED unless the caller has one of the roles. */
export function requireRole(principal: Principal, ...roles: Role[]): void {
  if (!roles.includes(principal.role)) {
    throw permissionDenied(`this action needs the ${roles.join(' or ')} role`);
  }
}

/** Throws PERMISSION_DENIED when a student asks about another student. Registrars and services pass. */
export function requireSelfOrStaff(principal: Principal, studentId: string): void {
  if (principal.role === 'student' && principal.studentId !== studentId) {
    throw permissionDenied('students may only act for themselves');
  }
}

/** Resolves an optional student id: empty means the calling student. */
export function studentIdFor(principal: Principal, requested: string): string {
  if (requested) {
    requireSelfOrStaff(principal, requested);
    return requested;
  }
  if (principal.role !== 'student') {
    throw new AppError(grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT', 'student_id: is required for non-student callers', {}, [
      { field: 'student_id', description: 'is required for non-student callers' },
    ]);
  }
  return principal.studentId!;
}

/** Signs tokens with a private JWK (development keys, service identities, tests). */
export class TokenSigner {
  private constructor(private readonly key: KeyLike | Uint8Array, private readonly kid: string | undefined, private readonly alg: string, private readonly issuer: string, private readonly audience: string) {}

  static async fromJwk(jwk: JWK, issuer: string, audience: string): Promise<TokenSigner> {
    const alg = jwk.alg ?? 'ES256';
    return new TokenSigner(await importJWK(jwk, alg), jwk.kid, alg, issuer, audience);
  }

  static async fromFile(file: string, issuer: string, audience: string): Promise<TokenSigner> {
    let jwk: JWK;
    try {
      jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    } catch (err) {
      throw new Error(`cannot read the JWT signing key at ${file} (run \`npm start\` once to create dev keys, or set JWT_PRIVATE_KEY_FILE): ${(err as Error).message}`);
    }
    return TokenSigner.fromJwk(jwk, issuer, audience);
  }

  /** Signs a token for a subject and role, valid for `ttlSeconds`. */
  sign(subject: string, role: Role, ttlSeconds = 3600): Promise<string> {
    return new SignJWT({ role })
      .setProtectedHeader({ alg: this.alg, kid: this.kid })
      .setSubject(subject)
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.key);
  }
}

const TOKEN_TTL_SECONDS = 900;
const RENEW_AFTER_MS = 600_000;

/**
 * Bearer metadata for calls to other services, signed as a service identity and
 * renewed well before it expires. Per-call metadata rather than call credentials,
 * because grpc-js refuses call credentials on insecure channels.
 *
 * @example
 *   const auth = serviceAuth(signer, 'registration-service');
 *   client.getTerm({ code }, await auth(), cb);
 */
export function serviceAuth(signer: TokenSigner, subject: string, now: () => number = Date.now): () => Promise<grpc.Metadata> {
  let current: Promise<string> | undefined;
  let renewAt = 0;
  return async () => {
    if (!current || now() >= renewAt) {
      renewAt = now() + RENEW_AFTER_MS;
      const signing = signer.sign(subject, 'service', TOKEN_TTL_SECONDS);
      current = signing;
      signing.catch(() => {
        if (current === signing) current = undefined;
      });
    }
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${await current}`);
    return md;
  };
}
