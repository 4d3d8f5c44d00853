import { grpc } from '@improbable-eng/grpc-web';
import { Observable, catchError, throwError } from 'rxjs';
import { CourseServiceClientImpl, GrpcWebImpl as CourseRpc, type CourseService } from '../../../gen/web/coursereg/course/v1/course_service';
import { RegistrationServiceClientImpl, GrpcWebImpl as RegistrationRpc, type RegistrationService } from '../../../gen/web/coursereg/registration/v1/registration_service';
import { StudentServiceClientImpl, GrpcWebImpl as StudentRpc, type StudentService } from '../../../gen/web/coursereg/student/v1/student_service';
import { createDevAuthApi, type DevAuthApi } from './devAuth';
import { ApiError, Code, toApiError } from './errors';

/** A generated service interface with the per-call metadata argument taken away: the API adds the token. */
export type Calls<S> = {
  [K in keyof S]: S[K] extends (request: infer R, metadata?: grpc.Metadata) => infer O ? (request: R) => O : never;
};

/**
 * Everything the web client calls. Components receive it (ApiProvider), so tests pass
 * a fake object; the real one wraps the generated gRPC-web clients. Unary calls reject
 * with ApiError; streams error with ApiError.
 */
export interface Api {
  course: Calls<CourseService>;
  student: Calls<StudentService>;
  registration: Calls<RegistrationService>;
  dev: DevAuthApi;
}

export interface ApiOptions {
  /** The gateway's origin; the page's own origin in production. */
  origin: string;
  /** The current bearer token, if signed in. */
  token: () => string | undefined;
  /** Called when a call is answered UNAUTHENTICATED (expired or revoked token). */
  onUnauthenticated?: (err: ApiError) => void;
  transport?: grpc.TransportFactory;
}

function authorized<S extends object>(client: S, opts: ApiOptions): Calls<S> {
  const metadata = () => {
    const token = opts.token();
    return token ? new grpc.Metadata({ authorization: `Bearer ${token}` }) : undefined;
  };
  const fail = (e: unknown) => {
    const err = toApiError(e);
    if (err.code === Code.UNAUTHENTICATED) opts.onUnauthenticated?.(err);
    return err;
  };
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string' || !/^[A-Z]/.test(prop)) return value;
      return (request: unknown) => {
        const out = (value as (r: unknown, m?: grpc.Metadata) => unknown).call(target, request, metadata());
        if (out instanceof Observable) return out.pipe(catchError((e: unknown) => throwError(() => fail(e))));
        return (out as Promise<unknown>).catch((e: unknown) => {
          throw fail(e);
        });
      };
    },
  }) as unknown as Calls<S>;
}

/** The real API: gRPC-web to the gateway at `origin`, development sign-in over fetch. */
export function createGrpcApi(opts: ApiOptions): Api {
  const rpcOptions = opts.transport ? { transport: opts.transport } : {};
  return {
    course: authorized(new CourseServiceClientImpl(new CourseRpc(opts.origin, rpcOptions)), opts),
    student: authorized(new StudentServiceClientImpl(new StudentRpc(opts.origin, rpcOptions)), opts),
    registration: authorized(new RegistrationServiceClientImpl(new RegistrationRpc(opts.origin, rpcOptions)), opts),
    dev: createDevAuthApi(opts.origin),
  };
}

/** A new idempotency key for a mutating call; a retry of the same action reuses it. */
export function newRequestId(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
