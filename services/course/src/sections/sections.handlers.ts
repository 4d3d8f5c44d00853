import { z } from 'zod';
import { DayOfWeek, SectionStatus, type Section } from '../../../../gen/coursereg/course/v1/course';
import { GetSectionResponse, ListSectionsResponse, type CourseServiceServer } from '../../../../gen/coursereg/course/v1/course_service';
import { principalOf, requireRole } from '../../../shared/src/auth';
import { isForeignKeyViolation, isUniqueViolation } from '../../../shared/src/db';
import { etags } from '../../../shared/src/enums';
import { aborted, alreadyExists, failedPrecondition, notFound } from '../../../shared/src/errors';
import { mergeMasked, resolveUpdateMask } from '../../../shared/src/fieldmask';
import { decodePageToken, encodePageToken, pageSizeOf } from '../../../shared/src/pagination';
import { unary } from '../../../shared/src/server';
import { minutesOf, rules, validate } from '../../../shared/src/validation';
import { courseCode, departmentCode } from '../courses/courses.service';
import type { CourseDb } from '../db';
import type { CatalogDeps } from '../deps';
import { termCode } from '../terms/terms.service';
import * as repo from './sections.repository';
import { daysMask, meetingsToValues, SECTION_MUTABLE, sectionFromRow, sectionKind, sectionSchema, sectionStatus, type ValidSection } from './sections.service';

type SectionHandlers = Pick<CourseServiceServer, 'createSection' | 'getSection' | 'batchGetSections' | 'listSections' | 'updateSection' | 'cancelSection'>;

const listRequest = z.object({
  termCode: termCode(),
  pageSize: rules.pageSize(),
  pageToken: z.string().max(512),
  department: z.union([z.literal(''), departmentCode()]),
  courseCode: z.union([z.literal(''), courseCode()]),
  query: rules.optionalText(100),
  openSeatsOnly: z.boolean(),
  days: z.array(rules.enumValue(DayOfWeek, 'day of week')).max(7),
  startAfter: z.union([z.literal(''), rules.clockTime()]),
  endBefore: z.union([z.literal(''), rules.clockTime()]),
});

/** Loads full sections (with meetings and links) in the order of `ids`, skipping unknown ones. */
async function loadSections(db: CourseDb, ids: string[]): Promise<Section[]> {
  const rows = await repo.findSections(db, ids);
  const [meetings, links] = await Promise.all([repo.meetingsOf(db, ids), repo.linksOf(db, ids)]);
  const byId = new Map(rows.map((r) => [r.id, sectionFromRow(r, meetings.get(r.id) ?? [], links.get(r.id) ?? [])]));
  return ids.filter((id) => byId.has(id)).map((id) => byId.get(id)!);
}

async function checkLinks(db: CourseDb, s: ValidSection, selfId?: string): Promise<void> {
  const keys = await repo.sectionKeys(db, s.linkedSectionIds);
  const bad = s.linkedSectionIds.filter((id) => id === selfId || keys.get(id)?.course_code !== s.courseCode || keys.get(id)?.term_code !== s.termCode);
  if (bad.length > 0) {
    throw failedPrecondition('LINKED_SECTION_INVALID', `linked sections must be other sections of ${s.courseCode} in ${s.termCode}: ${bad.join(', ')}`);
  }
}

export function sectionHandlers({ db, cache, log }: CatalogDeps): SectionHandlers {
  const loadSection = async (id: string, trx: CourseDb = db): Promise<Section> => {
    const [s] = await loadSections(trx, [id]);
    if (!s) throw notFound('SECTION_NOT_FOUND', `no section ${id}`, { section_id: id });
    return s;
  };

  return {
    createSection: unary(log, 'CreateSection', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const input = call.request.section;
      const s = validate(z.object({ section: sectionSchema }, { required_error: 'is required' }), {
        section: input && { ...input, status: input.status || SectionStatus.SECTION_STATUS_OPEN },
      }).section;
      if (s.status === SectionStatus.SECTION_STATUS_CANCELLED) {
        throw failedPrecondition('SECTION_CANCELLED', 'a new section cannot start cancelled');
      }
      let id: string;
      try {
        id = await db.transaction().execute(async (trx) => {
          await checkLinks(trx, s);
          const newId = await repo.insertSection(trx, {
            course_code: s.courseCode,
            term_code: s.termCode,
            section_code: s.sectionCode,
            kind: sectionKind.toDb(s.kind),
            instructor: s.instructor,
            capacity: s.capacity,
            waitlist_capacity: s.waitlistCapacity,
            status: sectionStatus.toDb(s.status),
          });
          await repo.replaceMeetings(trx, newId, meetingsToValues(s.meetingTimes));
          await repo.replaceLinks(trx, newId, s.linkedSectionIds);
          return newId;
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw alreadyExists('SECTION_EXISTS', `section ${s.sectionCode} of ${s.courseCode} already exists in ${s.termCode}`);
        if (isForeignKeyViolation(err, 'sections_course_code_fkey')) throw notFound('COURSE_NOT_FOUND', `no course ${s.courseCode}`, { course_code: s.courseCode });
        if (isForeignKeyViolation(err, 'sections_term_code_fkey')) throw notFound('TERM_NOT_FOUND', `no term ${s.termCode}`, { term_code: s.termCode });
        throw err;
      }
      await cache.invalidate();
      return { section: await loadSection(id) };
    }),

    getSection: unary(log, 'GetSection', async (call) => {
      const { id } = validate(z.object({ id: rules.uuid() }), call.request);
      return cache.getOrLoad(`section:${id}`, GetSectionResponse, async () => ({ section: await loadSection(id) }));
    }),

    batchGetSections: unary(log, 'BatchGetSections', async (call) => {
      const { ids } = validate(z.object({ ids: z.array(rules.uuid()).min(1, 'must name at least one section').max(200, 'must name at most 200 sections') }), call.request);
      const found = new Map((await loadSections(db, [...new Set(ids)])).map((s) => [s.id, s]));
      const missing = ids.find((id) => !found.has(id));
      if (missing) throw notFound('SECTION_NOT_FOUND', `no section ${missing}`, { section_id: missing });
      return { sections: ids.map((id) => found.get(id)!) };
    }),

    listSections: unary(log, 'ListSections', async (call) => {
      const req = validate(listRequest, call.request);
      const filters: repo.SectionFilters = {
        termCode: req.termCode,
        department: req.department,
        courseCode: req.courseCode,
        query: req.query.trim(),
        openSeatsOnly: req.openSeatsOnly,
        daysMask: daysMask(req.days),
        startAfter: req.startAfter ? minutesOf(req.startAfter) : undefined,
        endBefore: req.endBefore ? minutesOf(req.endBefore) : undefined,
      };
      const size = pageSizeOf(req.pageSize);
      const after = decodePageToken<[string, string]>(req.pageToken, ['sections', filters]);
      return cache.getOrLoad(`sections:${JSON.stringify([filters, size, req.pageToken])}`, ListSectionsResponse, async () => {
        const rows = await repo.listSections(db, size + 1, filters, after);
        const page = rows.slice(0, size);
        const ids = page.map((r) => r.id);
        const [meetings, links] = await Promise.all([repo.meetingsOf(db, ids), repo.linksOf(db, ids)]);
        const last = page[page.length - 1];
        return {
          sections: page.map((r) => sectionFromRow(r, meetings.get(r.id) ?? [], links.get(r.id) ?? [])),
          nextPageToken: rows.length > size ? encodePageToken([last.course_code, last.section_code], ['sections', filters]) : '',
        };
      });
    }),

    updateSection: unary(log, 'UpdateSection', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const patch = validate(z.object({ section: z.object({ id: rules.uuid(), etag: z.string() }).passthrough() }, { required_error: 'is required' }), call.request).section;
      const mask = resolveUpdateMask(call.request.updateMask, SECTION_MUTABLE);
      const version = etags.require(patch.etag, 'section.etag');
      await db.transaction().execute(async (trx) => {
        // The seat row lock orders this change with the registration workers' counts.
        const locked = await repo.lockSection(trx, patch.id);
        if (!locked) throw notFound('SECTION_NOT_FOUND', `no section ${patch.id}`, { section_id: patch.id });
        if (locked.version !== version) throw aborted(`section ${patch.id} was changed by someone else; read it again`);
        if (locked.status === 'CANCELLED') throw failedPrecondition('SECTION_CANCELLED', `section ${patch.id} is cancelled`);
        const current = await loadSection(patch.id, trx);
        const merged = validate(z.object({ section: sectionSchema }), { section: mergeMasked(current, call.request.section!, mask) }).section;
        if (merged.status === SectionStatus.SECTION_STATUS_CANCELLED) {
          throw failedPrecondition('SECTION_CANCELLED', 'use CancelSection to cancel a section');
        }
        if (merged.capacity < locked.enrolled_count) {
          throw failedPrecondition('CAPACITY_BELOW_ENROLLED', `capacity ${merged.capacity} is below the ${locked.enrolled_count} students enrolled`, {
            enrolled_count: String(locked.enrolled_count),
          });
        }
        if (merged.waitlistCapacity < locked.waitlisted_count) {
          throw failedPrecondition('WAITLIST_BELOW_WAITLISTED', `waitlist capacity ${merged.waitlistCapacity} is below the ${locked.waitlisted_count} students waitlisted`, {
            waitlisted_count: String(locked.waitlisted_count),
          });
        }
        if (mask.has('linked_section_ids')) await checkLinks(trx, merged, patch.id);
        await repo.updateSection(trx, patch.id, {
          kind: sectionKind.toDb(merged.kind),
          instructor: merged.instructor,
          capacity: merged.capacity,
          waitlist_capacity: merged.waitlistCapacity,
          status: sectionStatus.toDb(merged.status),
        });
        if (mask.has('meeting_times')) await repo.replaceMeetings(trx, patch.id, meetingsToValues(merged.meetingTimes));
        if (mask.has('linked_section_ids')) await repo.replaceLinks(trx, patch.id, merged.linkedSectionIds);
      });
      await cache.invalidate();
      return { section: await loadSection(patch.id) };
    }),

    cancelSection: unary(log, 'CancelSection', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const req = validate(z.object({ id: rules.uuid(), etag: z.string() }), call.request);
      const version = etags.require(req.etag);
      await db.transaction().execute(async (trx) => {
        const locked = await repo.lockSection(trx, req.id);
        if (!locked) throw notFound('SECTION_NOT_FOUND', `no section ${req.id}`, { section_id: req.id });
        if (locked.version !== version) throw aborted(`section ${req.id} was changed by someone else; read it again`);
        if (locked.status === 'CANCELLED') throw failedPrecondition('SECTION_CANCELLED', `section ${req.id} is already cancelled`);
        await repo.updateSection(trx, req.id, { status: 'CANCELLED' });
      });
      await cache.invalidate();
      return { section: await loadSection(req.id) };
    }),
  };
}
