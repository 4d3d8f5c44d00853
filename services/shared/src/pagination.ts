import { createHash } from 'node:crypto';
import { invalidArgument } from './errors';

export const DEFAULT_PAGE_SIZE = 50;

/**
 * Opaque keyset page tokens. A token carries the last row's sort key and a hash
 * of the filters it was issued for, so it cannot be replayed against other
 * filters or forged into something else.
 *
 * @example
 *   const after = decodePageToken<[string, string]>(req.pageToken, filters);
 *   const next = rows.length > size ? encodePageToken(lastKey, filters) : '';
 */
export function encodePageToken(key: unknown, filters: unknown): string {
  return Buffer.from(JSON.stringify({ k: key, f: filterHash(filters) })).toString('base64url');
}

export function decodePageToken<K>(token: string, filters: unknown): K | undefined {
  if (!token) return undefined;
  let parsed: { k?: unknown; f?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalidArgument([{ field: 'page_token', description: 'is not a token this service issued' }]);
  }
  if (parsed === null || typeof parsed !== 'object' || parsed.k === undefined || typeof parsed.f !== 'string') {
    throw invalidArgument([{ field: 'page_token', description: 'is not a token this service issued' }]);
  }
  if (parsed.f !== filterHash(filters)) {
    throw invalidArgument([{ field: 'page_token', description: 'was issued for different filters' }]);
  }
  return parsed.k as K;
}

function filterHash(filters: unknown): string {
  return createHash('sha256').update(JSON.stringify(filters)).digest('base64url').slice(0, 16);
}

/** The page size to use: 0 means the default. */
export function pageSizeOf(requested: number): number {
  return requested === 0 ? DEFAULT_PAGE_SIZE : requested;
}
