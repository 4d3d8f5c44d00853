import { z } from 'zod';
import { HoldKind, type Hold } from '../../../../gen/coursereg/student/v1/student';
import { enumCodec } from '../../../shared/src/enums';
import type { HoldKindName } from '../db';
import type { HoldRow } from './holds.repository';

export const holdKind = enumCodec<typeof HoldKind, HoldKindName>(HoldKind, 'HOLD_KIND_');

/** A keyset position in a student's holds, newest first: exact placement time (microseconds) and id. */
export type HoldKey = [placedAt: string, id: string];

const holdKey = z.tuple([z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/), z.string().uuid()]);

/** The key from a decoded page token, or undefined when it is not one this service issued. */
export function parseHoldKey(key: unknown): HoldKey | undefined {
  const parsed = holdKey.safeParse(key);
  return parsed.success ? parsed.data : undefined;
}

export function holdFromRow(r: HoldRow): Hold {
  return {
    id: r.id,
    studentId: r.student_id,
    kind: holdKind.fromDb(r.kind),
    reason: r.reason,
    placedBy: r.placed_by,
    placeTime: r.placed_at,
    releasedBy: r.released_by ?? '',
    releaseTime: r.released_at ?? undefined,
    active: r.released_at === null,
  };
}
