import { BadRequest, ErrorInfo, RetryInfo } from '../../../gen/web/google/rpc/error_details';
import { Status } from '../../../gen/web/google/rpc/status';

/** gRPC status codes (the numbers of grpc.Code), named for readable checks. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** Anything with grpc.Metadata's lookup: every value of one (case-insensitive) key. */
export interface MetadataLike {
  get(name: string): string[];
}

export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * A failed call, normalised: the gRPC code, the server's message, and what the
 * google.rpc details and headers said (ErrorInfo reason, field violations, when to retry).
 *
 * @example
 *   try { await api.registration.Register(req) } catch (e) { const err = toApiError(e); if (err.rateLimited) ... }
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: number,
    message: string,
    readonly reason: string | undefined = undefined,
    readonly reasonMetadata: Readonly<Record<string, string>> = {},
    readonly fieldViolations: readonly FieldViolation[] = [],
    /** Whole seconds to wait before retrying, from `retry-after` or RetryInfo. */
    readonly retryAfterSeconds: number | undefined = undefined,
  ) {
    super(message);
  }

  get rateLimited(): boolean {
    return this.code === Code.RESOURCE_EXHAUSTED;
  }

  /** The server could not be reached or gave no gRPC answer (network down, gateway restarting). */
  get transport(): boolean {
    return this.reason === undefined && (this.code === Code.UNKNOWN || this.code === Code.UNAVAILABLE || this.code === Code.INTERNAL) && /closed without|network|fetch|failed to fetch|xhr/i.test(this.message);
  }
}

/**
 * Reads an HTTP `Retry-After` value: delay seconds ("7") or an HTTP date. Returns whole
 * seconds from `now` (never negative), or undefined when absent or unreadable.
 *
 * @example parseRetryAfter('7') === 7; parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', now)
 */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v));
  if (/^-\d/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** x-ratelimit-reset (draft 03): whole seconds until the limit's window ends; at least 1, since a refusal means waiting. */
function parseRateLimitReset(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Math.max(1, Number(value));
}

function base64ToBytes(b64: string): Uint8Array {
  let s = b64.trim().replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4 !== 0) s += '=';
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export interface StatusDetails {
  message: string;
  reason?: string;
  reasonMetadata: Record<string, string>;
  fieldViolations: FieldViolation[];
  retryDelaySeconds?: number;
}

/** Decodes the base64 google.rpc.Status of a `grpc-status-details-bin` entry. Undefined if it cannot be read. */
export function decodeStatusDetails(b64: string): StatusDetails | undefined {
  let status: Status;
  try {
    // Several values of a binary header arrive comma-joined; the first is the status.
    status = Status.decode(base64ToBytes(b64.split(',')[0]));
  } catch {
    return undefined;
  }
  const out: StatusDetails = { message: status.message, reasonMetadata: {}, fieldViolations: [] };
  for (const d of status.details) {
    const type = d.typeUrl.slice(d.typeUrl.lastIndexOf('/') + 1);
    try {
      if (type === 'google.rpc.ErrorInfo') {
        const info = ErrorInfo.decode(d.value);
        out.reason = info.reason || undefined;
        out.reasonMetadata = info.metadata;
      } else if (type === 'google.rpc.BadRequest') {
        out.fieldViolations = BadRequest.decode(d.value).fieldViolations.map((v) => ({ field: v.field, description: v.description }));
      } else if (type === 'google.rpc.RetryInfo') {
        const delay = RetryInfo.decode(d.value).retryDelay;
        if (delay) out.retryDelaySeconds = Math.max(0, Math.ceil(delay.seconds + delay.nanos / 1e9));
      }
    } catch {
      // A detail we cannot read is skipped; the others still count.
    }
  }
  return out;
}

function first(md: MetadataLike | undefined, key: string): string | undefined {
  if (!md || typeof md.get !== 'function') return undefined;
  const v = md.get(key);
  return Array.isArray(v) && v.length > 0 ? v[0] : undefined;
}

/**
 * Turns whatever a generated client threw (GrpcWebError for unary calls, an Error with
 * `code` and `metadata` for streams, a TypeError from fetch) into an ApiError.
 * `retry-after` wins over RetryInfo, since the gateway sets it on its own refusals. A
 * rate-limit refusal with neither (Envoy's rate limit filter sends only its draft-03
 * headers) waits for `x-ratelimit-reset`, the seconds until the limit's window ends.
 */
export function toApiError(err: unknown, now: number = Date.now()): ApiError {
  if (err instanceof ApiError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown; metadata?: MetadataLike };
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.code !== 'number') return new ApiError(Code.UNKNOWN, message || 'network error');
  const raw = first(e.metadata, 'grpc-status-details-bin');
  const details = raw ? decodeStatusDetails(raw) : undefined;
  const rateLimited = e.code === Code.RESOURCE_EXHAUSTED || first(e.metadata, 'x-envoy-ratelimited') === 'true';
  const retryAfter =
    parseRetryAfter(first(e.metadata, 'retry-after'), now) ?? details?.retryDelaySeconds ?? (rateLimited ? parseRateLimitReset(first(e.metadata, 'x-ratelimit-reset')) : undefined);
  return new ApiError(e.code, message || details?.message || '', details?.reason, details?.reasonMetadata ?? {}, details?.fieldViolations ?? [], retryAfter);
}
