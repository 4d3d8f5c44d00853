import { sql, type Selectable } from 'kysely';
import type { CourseDb, MeetingTimeTable, SectionTable } from '../db';

export type SectionRow = Selectable<SectionTable> & { course_title: string; credits: number };
export type MeetingRow = Selectable<MeetingTimeTable>;
export interface SectionValues {
  id?: string;
  course_code: string;
  term_code: string;
  section_code: string;
  kind: SectionTable['kind'];
  instructor: string;
  capacity: number;
  waitlist_capacity: number;
  status: SectionTable['status'];
}
export type MeetingValues = Omit<MeetingRow, 'section_id' | 'ordinal'>;

export interface SectionFilters {
  termCode: string;
  department: string;
  courseCode: string;
  query: string;
  openSeatsOnly: boolean;
  daysMask: number;
  startAfter?: number;
  endBefore?: number;
}

function selectSections(db: CourseDb) {
  return db
    .selectFrom('course.sections as s')
    .innerJoin('course.courses as c', 'c.code', 's.course_code')
    .selectAll('s')
    .select(['c.title as course_title', 'c.credits']);
}

export function findSections(db: CourseDb, ids: string[]): Promise<SectionRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return selectSections(db).where('s.id', 'in', ids).execute();
}

/** Locks a section's row (its seat row) for the rest of the transaction. */
export function lockSection(db: CourseDb, id: string): Promise<Selectable<SectionTable> | undefined> {
  return db.selectFrom('course.sections').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export function listSections(db: CourseDb, limit: number, f: SectionFilters, after?: [string, string]): Promise<SectionRow[]> {
  let q = selectSections(db).where('s.term_code', '=', f.termCode).orderBy('s.course_code').orderBy('s.section_code').limit(limit);
  if (f.department) q = q.where('c.department', '=', f.department);
  if (f.courseCode) q = q.where('s.course_code', '=', f.courseCode);
  if (f.query) {
    const pattern = `%${f.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) => eb.or([eb('c.code', 'ilike', pattern), eb('c.title', 'ilike', pattern)]));
  }
  if (f.openSeatsOnly) q = q.where('s.status', '=', 'OPEN').whereRef('s.enrolled_count', '<', 's.capacity');
  if (f.daysMask) {
    q = q.where(({ exists, selectFrom }) =>
      exists(selectFrom('course.meeting_times as m').select('m.ordinal').whereRef('m.section_id', '=', 's.id').where(sql<boolean>`(m.days & ${f.daysMask}) <> 0`)),
    );
  }
  if (f.startAfter !== undefined) {
    const v = f.startAfter;
    q = q.where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('course.meeting_times as m').select('m.ordinal').whereRef('m.section_id', '=', 's.id').where('m.start_minute', '<', v))),
    );
  }
  if (f.endBefore !== undefined) {
    const v = f.endBefore;
    q = q.where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('course.meeting_times as m').select('m.ordinal').whereRef('m.section_id', '=', 's.id').where('m.end_minute', '>', v))),
    );
  }
  if (after) {
    q = q.where((eb) => eb.or([eb('s.course_code', '>', after[0]), eb.and([eb('s.course_code', '=', after[0]), eb('s.section_code', '>', after[1])])]));
  }
  return q.execute();
}

export async function meetingsOf(db: CourseDb, ids: string[]): Promise<Map<string, MeetingRow[]>> {
  const out = new Map<string, MeetingRow[]>();
  if (ids.length === 0) return out;
  const rows = await db.selectFrom('course.meeting_times').selectAll().where('section_id', 'in', ids).orderBy('section_id').orderBy('ordinal').execute();
  for (const r of rows) (out.get(r.section_id) ?? out.set(r.section_id, []).get(r.section_id)!).push(r);
  return out;
}

export async function linksOf(db: CourseDb, ids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (ids.length === 0) return out;
  const rows = await db.selectFrom('course.section_links').selectAll().where('section_id', 'in', ids).orderBy('linked_section_id').execute();
  for (const r of rows) (out.get(r.section_id) ?? out.set(r.section_id, []).get(r.section_id)!).push(r.linked_section_id);
  return out;
}

export async function insertSection(db: CourseDb, v: SectionValues): Promise<string> {
  const r = await db.insertInto('course.sections').values(v).returning('id').executeTakeFirstOrThrow();
  return r.id;
}

export async function updateSection(db: CourseDb, id: string, v: Partial<SectionValues>): Promise<void> {
  await db
    .updateTable('course.sections')
    .set((eb) => ({ ...v, version: eb('version', '+', 1), updated_at: new Date() }))
    .where('id', '=', id)
    .execute();
}

export async function replaceMeetings(db: CourseDb, id: string, meetings: MeetingValues[]): Promise<void> {
  await db.deleteFrom('course.meeting_times').where('section_id', '=', id).execute();
  if (meetings.length > 0) {
    await db.insertInto('course.meeting_times').values(meetings.map((m, ordinal) => ({ ...m, section_id: id, ordinal }))).execute();
  }
}

export async function replaceLinks(db: CourseDb, id: string, linked: string[]): Promise<void> {
  await db.deleteFrom('course.section_links').where('section_id', '=', id).execute();
  if (linked.length > 0) {
    await db.insertInto('course.section_links').values(linked.map((l) => ({ section_id: id, linked_section_id: l }))).execute();
  }
}

/** Course and term of each of `ids` that exists. */
export async function sectionKeys(db: CourseDb, ids: string[]): Promise<Map<string, { course_code: string; term_code: string }>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('course.sections').select(['id', 'course_code', 'term_code']).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, r]));
}
