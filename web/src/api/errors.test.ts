import { grpc } from '@improbable-eng/grpc-web';
import { describe, expect, it } from 'vitest';
import { BadRequest, ErrorInfo, RetryInfo } from '../../../gen/web/google/rpc/error_details';
import { Status } from '../../../gen/web/google/rpc/status';
import { ApiError, Code, decodeStatusDetails, parseRetryAfter, toApiError } from './errors';

const NOW = Date.parse('2026-11-24T10:00:00Z');

function statusBin(opts: { reason?: string; retrySeconds?: number; retryNanos?: number; violations?: { field: string; description: string }[] }): string {
  const details = [];
  if (opts.reason) details.push({ typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: ErrorInfo.encode({ reason: opts.reason, domain: 'coursereg', metadata: { section_id: 'abc' } }).finish() });
  if (opts.violations) details.push({ typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: BadRequest.encode({ fieldViolations: opts.violations }).finish() });
  if (opts.retrySeconds !== undefined) {
    details.push({ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: RetryInfo.encode({ retryDelay: { seconds: opts.retrySeconds, nanos: opts.retryNanos ?? 0 } }).finish() });
  }
  const bytes = Status.encode({ code: 9, message: 'refused', details }).finish();
  return btoa(String.fromCharCode(...bytes));
}

/** What the generated client rejects with: GrpcWebError(message, code, trailers). */
const grpcError = (code: number, message: string, md: Record<string, string>) => Object.assign(new Error(message), { code, metadata: new grpc.Metadata(md) });

describe('parseRetryAfter', () => {
  it('reads delay seconds', () => {
    expect(parseRetryAfter('7', NOW)).toBe(7);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter('2.5', NOW)).toBe(3);
  });

  it('reads an HTTP date as seconds from now, never negative', () => {
    expect(parseRetryAfter('Tue, 24 Nov 2026 10:00:12 GMT', NOW)).toBe(12);
    expect(parseRetryAfter('Tue, 24 Nov 2026 09:59:00 GMT', NOW)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('', NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-3', NOW)).toBeUndefined();
  });
});

describe('toApiError', () => {
  it('decodes the ErrorInfo reason and metadata from grpc-status-details-bin', () => {
    const err = toApiError(grpcError(Code.FAILED_PRECONDITION, 'Section 001 of CS 101 is full.', { 'grpc-status-details-bin': statusBin({ reason: 'SECTION_FULL' }) }), NOW);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.reason).toBe('SECTION_FULL');
    expect(err.reasonMetadata).toEqual({ section_id: 'abc' });
    expect(err.message).toBe('Section 001 of CS 101 is full.');
    expect(err.rateLimited).toBe(false);
  });

  it('reads field violations', () => {
    const err = toApiError(grpcError(Code.INVALID_ARGUMENT, 'bad', { 'grpc-status-details-bin': statusBin({ reason: 'INVALID_ARGUMENT', violations: [{ field: 'capacity', description: 'must be at most 2000' }] }) }));
    expect(err.fieldViolations).toEqual([{ field: 'capacity', description: 'must be at most 2000' }]);
  });

  it('takes the retry delay from RetryInfo, rounding up', () => {
    const err = toApiError(grpcError(Code.RESOURCE_EXHAUSTED, 'slow down', { 'grpc-status-details-bin': statusBin({ reason: 'RATE_LIMITED', retrySeconds: 4, retryNanos: 200_000_000 }) }), NOW);
    expect(err.rateLimited).toBe(true);
    expect(err.retryAfterSeconds).toBe(5);
  });

  it('prefers the gateway retry-after header over RetryInfo', () => {
    const err = toApiError(grpcError(Code.RESOURCE_EXHAUSTED, 'slow down', { 'retry-after': '9', 'grpc-status-details-bin': statusBin({ retrySeconds: 2 }) }), NOW);
    expect(err.retryAfterSeconds).toBe(9);
  });

  it('reads retry-after alone (a gateway refusal without details)', () => {
    const err = toApiError(grpcError(Code.RESOURCE_EXHAUSTED, 'rate limited', { 'retry-after': '3' }), NOW);
    expect(err.reason).toBeUndefined();
    expect(err.retryAfterSeconds).toBe(3);
  });

  it('falls back to x-ratelimit-reset on a refusal without retry-after or RetryInfo (as Envoy sends it)', () => {
    // Envoy's global limit: HTTP 429 without a grpc-status, read by the client as RESOURCE_EXHAUSTED.
    const global = toApiError(grpcError(Code.RESOURCE_EXHAUSTED, 'Too Many Requests', { 'x-envoy-ratelimited': 'true', 'x-ratelimit-reset': '0', 'x-ratelimit-limit': '20, 20;w=1' }), NOW);
    expect(global.retryAfterSeconds).toBe(1);
    // Marked by Envoy but mapped to UNAVAILABLE (rate_limited_as_resource_exhausted off).
    expect(toApiError(grpcError(Code.UNAVAILABLE, 'rate limited', { 'x-envoy-ratelimited': 'true', 'x-ratelimit-reset': '7' }), NOW).retryAfterSeconds).toBe(7);
    // retry-after still wins; and the header on any other error is not a wait.
    expect(toApiError(grpcError(Code.RESOURCE_EXHAUSTED, 'slow down', { 'retry-after': '3', 'x-ratelimit-reset': '9' }), NOW).retryAfterSeconds).toBe(3);
    expect(toApiError(grpcError(Code.FAILED_PRECONDITION, 'full', { 'x-ratelimit-reset': '9' }), NOW).retryAfterSeconds).toBeUndefined();
  });

  it('accepts unpadded and url-safe base64', () => {
    const padded = statusBin({ reason: 'HOLD_ACTIVE' });
    expect(decodeStatusDetails(padded.replace(/=+$/, ''))?.reason).toBe('HOLD_ACTIVE');
    expect(decodeStatusDetails(padded.replace(/\+/g, '-').replace(/\//g, '_'))?.reason).toBe('HOLD_ACTIVE');
  });

  it('survives unreadable details', () => {
    const err = toApiError(grpcError(Code.INTERNAL, 'boom', { 'grpc-status-details-bin': '!!!not base64' }));
    expect(err.code).toBe(Code.INTERNAL);
    expect(err.reason).toBeUndefined();
  });

  it('treats a failed fetch and a closed response as transport trouble', () => {
    expect(toApiError(new TypeError('Failed to fetch')).code).toBe(Code.UNKNOWN);
    expect(toApiError(grpcError(Code.UNKNOWN, 'Response closed without headers', {})).transport).toBe(true);
    expect(toApiError(grpcError(Code.UNAVAILABLE, 'x', { 'grpc-status-details-bin': statusBin({ reason: 'QUEUE_UNAVAILABLE' }) })).transport).toBe(false);
  });

  it('passes an ApiError through', () => {
    const e = new ApiError(Code.NOT_FOUND, 'gone', 'SECTION_NOT_FOUND');
    expect(toApiError(e)).toBe(e);
  });
});
