import { sql, type Kysely } from 'kysely';
import type { DemoData } from './demo-data';

function chunks<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** True when the catalog has no term yet (a fresh database). */
export async function isEmpty(db: Kysely<any>): Promise<boolean> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM course.terms`.execute(db);
  return r.rows[0].n === 0;
}

/**
 * Loads demo data into the course and student schemas in one transaction, in
 * bulk. Replaces any earlier demo data (it truncates both schemas' tables).
 */
export async function loadDemoData(db: Kysely<any>, data: DemoData): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`TRUNCATE course.section_links, course.meeting_times, course.sections, course.course_requisites, course.courses, course.terms,
      student.registration_windows, student.holds, student.completed_courses, student.students`.execute(trx);
    await trx.insertInto('course.terms').values(data.term).execute();
    for (const part of chunks(data.courses, 500)) {
      await trx
        .insertInto('course.courses')
        .values(part.map((c) => ({ code: c.code, title: c.title, description: c.description, credits: c.credits, department: c.department, prerequisite: c.prerequisite === null ? null : JSON.stringify(c.prerequisite) })))
        .execute();
    }
    const requisites = data.courses.flatMap((c) => [...new Set(c.prerequisiteCodes)].map((r) => ({ course_code: c.code, required_code: r, kind: 'PRE' })));
    for (const part of chunks(requisites, 1000)) await trx.insertInto('course.course_requisites').values(part).execute();
    for (const part of chunks(data.sections, 500)) {
      await trx.insertInto('course.sections').values(part.map(({ meetings, linked, ...s }) => s)).execute();
    }
    const meetings = data.sections.flatMap((s) => s.meetings.map((m, ordinal) => ({ ...m, section_id: s.id, ordinal })));
    for (const part of chunks(meetings, 1000)) await trx.insertInto('course.meeting_times').values(part).execute();
    const links = data.sections.flatMap((s) => s.linked.map((l) => ({ section_id: s.id, linked_section_id: l })));
    for (const part of chunks(links, 1000)) await trx.insertInto('course.section_links').values(part).execute();

    for (const part of chunks(data.students, 1000)) {
      await trx
        .insertInto('student.students')
        .values(part.map((s) => ({ id: s.id, name: s.name, email: s.email, program: s.program, class_standing: s.class_standing, max_credits: s.max_credits })))
        .execute();
    }
    const records = data.students.flatMap((s) => s.completed.map((c) => ({ ...c, student_id: s.id })));
    for (const part of chunks(records, 2000)) await trx.insertInto('student.completed_courses').values(part).execute();
    const holds = data.students.filter((s) => s.hold).map((s) => ({ student_id: s.id, kind: s.hold!.kind, reason: s.hold!.reason, placed_by: 'seed' }));
    if (holds.length > 0) await trx.insertInto('student.holds').values(holds).execute();
    const windows = data.students.map((s) => ({ student_id: s.id, term_code: data.term.code, opens_at: s.window_opens_at }));
    for (const part of chunks(windows, 2000)) await trx.insertInto('student.registration_windows').values(part).execute();
  });
}
