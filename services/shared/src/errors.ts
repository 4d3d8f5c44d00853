import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { Any } from '../../../gen/google/protobuf/any';
import { BadRequest, ErrorInfo, RetryInfo } from '../../../gen/google/rpc/error_details';
import { Status } from '../../../gen/google/rpc/status';

export const ERROR_DOMAIN = 'coursereg';
const TYPE_PREFIX = 'type.googleapis.com/';

export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * A failure with its gRPC code and stable reason. Domain code throws these; the
 * server edge turns them into a status with google.rpc details, once.
 *
 * @example
 *   throw new AppError(status.FAILED_PRECONDITION, 'SECTION_FULL', 'no seats or waitlist places left');
 */
export class AppError extends Error {
  constructor(
    readonly code: status,
    readonly reason: string,
    message: string,
    readonly metadata: Record<string, string> = {},
    readonly fieldViolations: FieldViolation[] = [],
    readonly retryDelayMs?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const invalidArgument = (violations: FieldViolation[]) =>
  new AppError(
    status.INVALID_ARGUMENT,
    'INVALID_ARGUMENT',
    violations.map((v) => `${v.field}: ${v.description}`).join('; '),
    {},
    violations,
  );
export const notFound = (reason: string, message: string, metadata: Record<string, string> = {}) =>
  new AppError(status.NOT_FOUND, reason, message, metadata);
export const alreadyExists = (reason: string, message: string) => new AppError(status.ALREADY_EXISTS, reason, message);
export const failedPrecondition = (reason: string, message: string, metadata: Record<string, string> = {}) =>
  new AppError(status.FAILED_PRECONDITION, reason, message, metadata);
export const aborted = (message: string) => new AppError(status.ABORTED, 'ETAG_MISMATCH', message);
export const permissionDenied = (message: string) => new AppError(status.PERMISSION_DENIED, 'PERMISSION_DENIED', message);
export const unauthenticated = (reason: string, message: string) => new AppError(status.UNAUTHENTICATED, reason, message);
export const unavailable = (reason: string, message: string) => new AppError(status.UNAVAILABLE, reason, message);
export const resourceExhausted = (reason: string, message: string, retryDelayMs: number) =>
  new AppError(status.RESOURCE_EXHAUSTED, reason, message, {}, [], retryDelayMs);

function packAny(typeName: string, value: Uint8Array): Any {
  return { typeUrl: TYPE_PREFIX + typeName, value: Buffer.from(value) };
}

/** Encodes an AppError as the google.rpc.Status carried in grpc-status-details-bin. */
export function encodeStatusDetails(err: AppError): Buffer {
  const details: Any[] = [
    packAny(
      'google.rpc.ErrorInfo',
      ErrorInfo.encode({ reason: err.reason, domain: ERROR_DOMAIN, metadata: err.metadata }).finish(),
    ),
  ];
  if (err.fieldViolations.length > 0) {
    details.push(
      packAny('google.rpc.BadRequest', BadRequest.encode({ fieldViolations: err.fieldViolations }).finish()),
    );
  }
  if (err.retryDelayMs !== undefined) {
    const seconds = Math.floor(err.retryDelayMs / 1000);
    details.push(
      packAny(
        'google.rpc.RetryInfo',
        RetryInfo.encode({ retryDelay: { seconds, nanos: (err.retryDelayMs % 1000) * 1e6 } }).finish(),
      ),
    );
  }
  return Buffer.from(Status.encode({ code: err.code, message: err.message, details }).finish());
}

/**
 * Turns anything thrown by a handler into a gRPC error. Unknown errors become
 * INTERNAL without leaking their message; AppErrors keep code, reason and details.
 */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const appErr = err instanceof AppError ? err : new AppError(status.INTERNAL, 'INTERNAL', 'internal error');
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', encodeStatusDetails(appErr));
  return { code: appErr.code, details: appErr.message, metadata };
}

export interface DecodedError {
  code: number;
  message: string;
  reason?: string;
  metadata: Record<string, string>;
  fieldViolations: FieldViolation[];
  retryDelayMs?: number;
}

/** Reads code, reason, field violations and retry hint from a gRPC error, as clients see them. */
export function decodeServiceError(err: ServiceError): DecodedError {
  return decodeStatus(err.code, err.details, err.metadata?.get('grpc-status-details-bin')[0]);
}

/**
 * The same from a status's parts, as any client receives them: code, message and the
 * grpc-status-details-bin value (bytes, or base64 as it travels in a header).
 *
 * @example
 *   decodeStatus(8, 'slow down', res.headers.get('grpc-status-details-bin') ?? undefined).retryDelayMs
 */
export function decodeStatus(code: number, message: string, detailsBin: Buffer | Uint8Array | string | undefined): DecodedError {
  const out: DecodedError = { code, message, metadata: {}, fieldViolations: [] };
  if (!detailsBin) return out;
  const st = Status.decode(typeof detailsBin === 'string' ? Buffer.from(detailsBin, 'base64') : detailsBin);
  for (const d of st.details) {
    const type = d.typeUrl.slice(d.typeUrl.lastIndexOf('/') + 1);
    if (type === 'google.rpc.ErrorInfo') {
      const info = ErrorInfo.decode(d.value);
      out.reason = info.reason;
      out.metadata = info.metadata;
    } else if (type === 'google.rpc.BadRequest') {
      out.fieldViolations = BadRequest.decode(d.value).fieldViolations;
    } else if (type === 'google.rpc.RetryInfo') {
      const delay = RetryInfo.decode(d.value).retryDelay;
      if (delay) out.retryDelayMs = delay.seconds * 1000 + Math.round(delay.nanos / 1e6);
    }
  }
  return out;
}
