import { sql, type Insertable, type Selectable } from 'kysely';
import type { HoldTable, StudentDb } from '../db';
import type { HoldKey } from './holds.service';

export type HoldRow = Selectable<HoldTable>;

export function insertHold(db: StudentDb, values: Omit<Insertable<HoldTable>, 'id' | 'placed_at' | 'released_by' | 'released_at'>): Promise<HoldRow> {
  return db.insertInto('student.holds').values(values).returningAll().executeTakeFirstOrThrow();
}

/** Locks a hold's row for the rest of the transaction. */
export function lockHold(db: StudentDb, id: string): Promise<HoldRow | undefined> {
  return db.selectFrom('student.holds').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export function releaseHold(db: StudentDb, id: string, releasedBy: string): Promise<HoldRow> {
  return db
    .updateTable('student.holds')
    .set({ released_by: releasedBy, released_at: sql<Date>`greatest(now(), placed_at)` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * A student's holds, newest first, after `after`. Each row carries its exact
 * placement time as text (`key`), since a JavaScript Date drops the microseconds
 * the keyset needs.
 */
export function listHolds(
  db: StudentDb,
  studentId: string,
  limit: number,
  includeReleased: boolean,
  after?: HoldKey,
): Promise<(HoldRow & { key: string })[]> {
  let q = db
    .selectFrom('student.holds')
    .selectAll()
    .select(sql<string>`to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('key'))
    .where('student_id', '=', studentId)
    .orderBy('placed_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit);
  if (!includeReleased) q = q.where('released_at', 'is', null);
  if (after) q = q.where(sql<boolean>`(placed_at, id) < (${after[0]}::timestamptz, ${after[1]}::uuid)`);
  return q.execute();
}

/** The active holds of several students in one query. */
export async function activeHoldsOfMany(db: StudentDb, studentIds: string[]): Promise<Map<string, HoldRow[]>> {
  const out = new Map<string, HoldRow[]>();
  if (studentIds.length === 0) return out;
  const rows = await db
    .selectFrom('student.holds')
    .selectAll()
    .where('student_id', 'in', studentIds)
    .where('released_at', 'is', null)
    .orderBy('placed_at')
    .execute();
  for (const r of rows) (out.get(r.student_id) ?? out.set(r.student_id, []).get(r.student_id)!).push(r);
  return out;
}
