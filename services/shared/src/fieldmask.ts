import { invalidArgument } from './errors';

/**
 * Resolves an update mask against the fields a resource lets callers change.
 * An empty mask means all of them; an unknown path is INVALID_ARGUMENT.
 */
export function resolveUpdateMask<F extends string>(paths: string[] | undefined, mutable: readonly F[]): Set<F> {
  if (!paths || paths.length === 0) return new Set(mutable);
  const bad = paths.filter((p) => !(mutable as readonly string[]).includes(p));
  if (bad.length > 0) {
    throw invalidArgument(bad.map((p) => ({ field: 'update_mask', description: `"${p}" cannot be updated; allowed: ${mutable.join(', ')}` })));
  }
  return new Set(paths as F[]);
}

/**
 * Copies the masked fields (proto paths such as "waitlist_capacity") from `patch`
 * onto `current`, leaving every other field as stored.
 *
 * @example
 *   const merged = mergeMasked(stored, request.section, resolveUpdateMask(request.updateMask, SECTION_MUTABLE));
 */
export function mergeMasked<T extends object>(current: T, patch: T, mask: Set<string>): T {
  const out = { ...current };
  for (const path of mask) {
    const key = path.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()) as keyof T;
    out[key] = patch[key];
  }
  return out;
}
