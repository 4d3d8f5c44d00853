import { describe, expect, it } from 'vitest';
import { ApiError, Code } from './errors';
import { errorSentence, REASON_MESSAGES, reasonSentence, retryPhrase } from './reasons';

// Every contract file, read as text, so that a reason added to a proto comment without a
// sentence here fails this test.
const protos = import.meta.glob('../../../proto/coursereg/**/*.proto', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

function reasonsNamedInProtos(): string[] {
  const found = new Set<string>();
  for (const text of Object.values(protos)) {
    // "FAILED_PRECONDITION (SECTION_FULL when seats ..., SECTION_CLOSED, ...)", "NOT_FOUND (NOT_REGISTERED)",
    // "FAILED_PRECONDITION with the add's reason (SECTION_FULL, TIME_CONFLICT, ...)".
    for (const m of text.matchAll(/\b(?:NOT_FOUND|FAILED_PRECONDITION|ALREADY_EXISTS|UNAVAILABLE|ABORTED)[^(.;]{0,40}\(([^)]*)\)/g)) {
      for (const code of m[1].matchAll(/\b[A-Z][A-Z_]{3,}[A-Z]\b/g)) found.add(code[0]);
    }
    for (const m of text.matchAll(/INELIGIBILITY_REASON_([A-Z_]+)\s*=\s*[1-9]/g)) found.add(m[1]);
    // Reason fields' examples: "Stable UPPER_SNAKE reason ..., e.g. SECTION_FULL", 'code, e.g. "PREREQUISITE_NOT_MET"'.
    for (const line of text.split('\n').filter((l) => /reason|code/i.test(l) && /e\.g\./.test(l))) {
      const m = /e\.g\.\s*"?([A-Z][A-Z_]{3,}[A-Z])"?/.exec(line);
      if (m) found.add(m[1]);
    }
  }
  return [...found].sort();
}

describe('reason messages', () => {
  it('reads the protos', () => {
    expect(Object.keys(protos).length).toBeGreaterThanOrEqual(6);
    expect(reasonsNamedInProtos()).toEqual(expect.arrayContaining(['SECTION_FULL', 'PREREQUISITE_NOT_MET', 'NOT_REGISTERED', 'CART_EMPTY', 'TIME_CONFLICT']));
  });

  it('has a sentence for every reason code named in the protos', () => {
    const missing = reasonsNamedInProtos().filter((r) => !REASON_MESSAGES[r]);
    expect(missing).toEqual([]);
  });

  it('has a sentence for every reason the services, workers and gateway return', () => {
    // Codes the services raise that no proto comment names (read from services/*/src).
    const fromServices = [
      'DUPLICATE_COURSE', 'LINKED_SECTION_REQUIRED', 'CREDIT_LIMIT_EXCEEDED', 'NOT_ENROLLED', 'REGISTRATION_PENDING', 'NOT_ELIGIBLE',
      'ELIGIBILITY_UNKNOWN', 'PUBLISH_FAILED', 'PROCESSING_FAILED', 'QUEUE_UNAVAILABLE', 'SEAT_CACHE_UNAVAILABLE', 'REQUEST_IN_PROGRESS',
      'REQUEST_ID_REUSED', 'CART_FULL', 'CAPACITY_OVERRIDE', 'TOKEN_EXPIRED', 'TOKEN_INVALID', 'TOKEN_MISSING', 'ETAG_MISMATCH',
      'STUDENT_SERVICE_UNAVAILABLE', 'CATALOG_UNAVAILABLE', 'PREREQUISITE_CYCLE', 'HOLD_NOT_FOUND', 'EMAIL_TAKEN', 'STUDENT_EXISTS',
      'COURSE_EXISTS', 'TERM_EXISTS', 'SECTION_EXISTS', 'REGISTRATION_NOT_FOUND', 'NOT_WAITLISTED',
      // The gateway (services/gateway/src/proxy).
      'RATE_LIMITED', 'LOCAL_RATE_LIMITED', 'UPSTREAM_OVERLOADED', 'UPSTREAM_CIRCUIT_OPEN', 'DEADLINE_EXCEEDED', 'REQUEST_TOO_LARGE',
      'ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'GATEWAY_INTERNAL', 'CANCELLED', 'UPSTREAM_UNAVAILABLE', 'GATEWAY_SHUTTING_DOWN',
      'RATE_LIMIT_SERVICE_ERROR',
    ];
    expect(fromServices.filter((r) => !REASON_MESSAGES[r])).toEqual([]);
  });

  it('writes sentences, not codes', () => {
    for (const [code, sentence] of Object.entries(REASON_MESSAGES)) {
      expect(sentence, code).toMatch(/^[A-Z].*[.!]$/);
      expect(sentence, code).not.toMatch(/[A-Z]{2,}_[A-Z]+/);
    }
  });

  it('falls back to the server message, then to a sentence naming an unknown code', () => {
    expect(reasonSentence('SECTION_FULL')).toBe('This section is full, and its waitlist is full too.');
    expect(reasonSentence('SOMETHING_NEW', 'The server says no.')).toBe('The server says no.');
    expect(reasonSentence('SOMETHING_NEW')).toBe('The request was refused (SOMETHING_NEW).');
  });

  it('explains failed calls by reason, then by status code', () => {
    expect(errorSentence(new ApiError(Code.FAILED_PRECONDITION, 'x', 'HOLD_ACTIVE'))).toMatch(/hold on your account/);
    expect(errorSentence(new ApiError(Code.RESOURCE_EXHAUSTED, 'slow down', undefined, {}, [], 7))).toMatch(/Too many requests/);
    expect(errorSentence(new ApiError(Code.UNAVAILABLE, 'Response closed without headers'))).toMatch(/Could not reach/);
    expect(errorSentence(new ApiError(Code.ABORTED, 'stale'))).toMatch(/Someone else changed this/);
  });

  it('counts seconds in words', () => {
    expect(retryPhrase(1)).toBe('Try again in 1 second.');
    expect(retryPhrase(6.2)).toBe('Try again in 7 seconds.');
  });
});
