import { z } from 'zod';
import { invalidArgument, type FieldViolation } from './errors';

// Missing fields read "is required" everywhere, in the API's own words.
z.setErrorMap((issue, ctx) => {
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') return { message: 'is required' };
  return { message: ctx.defaultError };
});

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Converts a zod issue path (camelCase, as in generated types) to a proto field path. */
export function fieldPath(path: (string | number)[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : snake(p))).join('.').replace(/\.\[/g, '[');
}

/**
 * Validates a request with a zod schema and returns the parsed value, or throws
 * INVALID_ARGUMENT listing every bad field by its proto name.
 *
 * @example
 *   const req = validate(getSectionSchema, call.request);
 */
export function validate<T extends z.ZodTypeAny>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const violations: FieldViolation[] = result.error.issues.map((i) => ({
    field: fieldPath(i.path) || 'request',
    description: i.message,
  }));
  throw invalidArgument(violations);
}

/** Builders for field rules used across the API. */
export const rules = {
  /** A required, trimmed string of bounded length. */
  text: (max: number, min = 1) => z.string().trim().min(min, min === 1 ? 'is required' : `must have at least ${min} characters`).max(max, `must have at most ${max} characters`),
  /** An optional string of bounded length ('' allowed). */
  optionalText: (max: number) => z.string().max(max, `must have at most ${max} characters`),
  /** A proto enum value that must be one of the defined, non-zero values. */
  enumValue: <E extends Record<string, string | number>>(e: E, name: string) => {
    const allowed = new Set(Object.values(e).filter((v): v is number => typeof v === 'number' && v > 0));
    return z.number().refine((v) => allowed.has(v), `must be a known ${name} (not unspecified)`);
  },
  /** A "HH:MM" 24-hour time. */
  clockTime: () => z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a 24-hour time HH:MM'),
  /** An ISO date "YYYY-MM-DD" that exists on the calendar. */
  isoDate: () =>
    z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD').refine((s) => {
      const d = new Date(`${s}T00:00:00Z`);
      return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
    }, 'must be a real calendar date'),
  /** A UUID. */
  uuid: () => z.string().uuid('must be a UUID'),
  /** A page size: 0 (default) up to max. */
  pageSize: (max = 500) => z.number().int().min(0, 'must not be negative').max(max, `must be at most ${max}`),
  /** A course code: department and number, e.g. "CS 101". */
  courseCode: () => z.string().regex(/^[A-Z]{2,8} [0-9]{3,4}[A-Z]?$/, 'must be a department and number such as "CS 101"'),
  /** A term code, e.g. "2027SP". */
  termCode: () => z.string().regex(/^[A-Z0-9]{2,16}$/, 'must be 2 to 16 upper-case letters or digits'),
  /** A student id: "S" and 4 to 9 digits, e.g. "S0001". */
  studentId: () => z.string().regex(/^S[0-9]{4,9}$/, 'must be "S" and 4 to 9 digits, e.g. "S0001"'),
  /** A caller's idempotency key. */
  requestId: (max = 64) => z.string().min(1, 'is required').max(max, `must have at most ${max} characters`).regex(/^[A-Za-z0-9._:-]*$/, 'may contain only letters, digits and . _ : -'),
};

/** Converts "HH:MM" to minutes after midnight. */
export function minutesOf(clock: string): number {
  const [h, m] = clock.split(':').map(Number);
  return h * 60 + m;
}

/** Converts minutes after midnight to "HH:MM". */
export function clockOf(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
