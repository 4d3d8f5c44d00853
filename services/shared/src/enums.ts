import { aborted, invalidArgument } from './errors';

/**
 * Maps between generated proto enums (TERM_STATUS_OPEN = 2) and the short names
 * stored in the database ('OPEN').
 *
 * @example
 *   const termStatus = enumCodec(TermStatus, 'TERM_STATUS_');
 *   termStatus.toDb(TermStatus.TERM_STATUS_OPEN) === 'OPEN'
 */
export function enumCodec<E extends Record<string, string | number>, S extends string = string>(e: E, prefix: string) {
  return {
    toDb(value: number): S {
      const name = (e as Record<number, string>)[value];
      if (!name || value <= 0) throw new Error(`no database name for ${prefix}${value}`);
      return name.slice(prefix.length) as S;
    },
    fromDb(name: string): E[keyof E] {
      const value = (e as Record<string, number>)[prefix + name];
      if (value === undefined) throw new Error(`unknown ${prefix}${name}`);
      return value as E[keyof E];
    },
  };
}

/** Formats a version number as an etag, and reads one back (undefined if malformed). */
export const etags = {
  of: (version: number) => `v${version}`,
  parse: (etag: string): number | undefined => (/^v\d{1,9}$/.test(etag) ? Number(etag.slice(1)) : undefined),
  /** The version an etag names; INVALID_ARGUMENT when missing, ABORTED when it cannot match any version. */
  require(etag: string, field = 'etag'): number {
    if (!etag) throw invalidArgument([{ field, description: 'is required: send the etag you last read' }]);
    const v = etags.parse(etag);
    if (v === undefined) throw aborted('the etag does not match the current version; read the resource again');
    return v;
  },
};
