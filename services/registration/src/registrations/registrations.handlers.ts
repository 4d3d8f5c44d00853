import { z } from 'zod';
import { DayOfWeek } from '../../../../gen/coursereg/course/v1/course';
import type { Registration, ScheduleEntry } from '../../../../gen/coursereg/registration/v1/registration';
import type { RegistrationServiceServer } from '../../../../gen/coursereg/registration/v1/registration_service';
import { principalOf, requireRole, studentIdFor, type Principal } from '../../../shared/src/auth';
import { isUniqueViolation } from '../../../shared/src/db';
import { failedPrecondition, notFound } from '../../../shared/src/errors';
import { decodePageToken, encodePageToken, pageSizeOf } from '../../../shared/src/pagination';
import { unary } from '../../../shared/src/server';
import { clockOf, rules, validate } from '../../../shared/src/validation';
import { appendAudit, findEventByRequest } from '../audit/audit.repository';
import { grantPermit } from '../audit/overrides.repository';
import { auditView } from '../audit/audit.service';
import type { RegistrationDeps } from '../deps';
import { findSections } from '../sections/sections.repository';
import * as repo from './registrations.repository';
import { toRegistration } from './registrations.service';

type Handlers = Pick<
  RegistrationServiceServer,
  'register' | 'getRegistration' | 'listRegistrations' | 'getSchedule' | 'getWaitlistPosition' | 'drop' | 'swap' | 'grantCapacityOverride'
>;

const studentField = z.string().max(64);
const registerRequest = z.object({ sectionId: rules.uuid(), requestId: rules.requestId(), studentId: studentField });
const swapRequest = z
  .object({ dropSectionId: rules.uuid(), addSectionId: rules.uuid(), requestId: rules.requestId(), studentId: studentField })
  .refine((r) => r.dropSectionId !== r.addSectionId, { path: ['addSectionId'], message: 'must differ from drop_section_id' });
const listRequest = z.object({ studentId: studentField, termCode: z.union([z.literal(''), rules.termCode()]), pageSize: rules.pageSize(200), pageToken: z.string().max(512) });
const scheduleRequest = z.object({ studentId: studentField, termCode: rules.termCode() });
const positionRequest = z.object({ sectionId: rules.uuid(), studentId: studentField });
const overrideRequest = z.object({ studentId: z.string().min(1, 'is required').max(64), sectionId: rules.uuid(), reason: rules.text(500) });

/** The acting user as recorded in the audit trail. */
export const actorOf = (p: Principal) => (p.role === 'student' ? p.studentId! : `${p.role}:${p.subject}`);

export function registrationHandlers(deps: RegistrationDeps): Handlers {
  const { db, log, door, decider, seats } = deps;

  /** The waitlist position of a WAITLISTED row, from Redis (reloaded from PostgreSQL if flushed). */
  async function positionOf(row: repo.RegistrationRow): Promise<number> {
    if (row.state !== 'WAITLISTED') return 0;
    let pos = await seats.waitlistPosition(row.section_id, row.student_id).catch(() => undefined);
    if (!pos) {
      await door.loadSeats(row.section_id);
      pos = await seats.waitlistPosition(row.section_id, row.student_id).catch(() => undefined);
    }
    return pos?.position ?? 0;
  }
  const view = async (row: repo.RegistrationRow): Promise<Registration> => toRegistration(row, await positionOf(row));

  return {
    register: unary(log, 'Register', async (call) => {
      const req = validate(registerRequest, call.request);
      const principal = principalOf(call);
      const studentId = studentIdFor(principal, req.studentId);
      const row = await door.register({ studentId, sectionId: req.sectionId, requestId: req.requestId, actor: actorOf(principal) });
      return { registration: await view(row) };
    }),

    getRegistration: unary(log, 'GetRegistration', async (call) => {
      const { id } = validate(z.object({ id: rules.uuid() }), call.request);
      const principal = principalOf(call);
      const row = await repo.findRegistration(db, id);
      if (!row || (principal.role === 'student' && principal.studentId !== row.student_id)) throw notFound('REGISTRATION_NOT_FOUND', `No registration ${id} exists.`);
      return { registration: await view(row) };
    }),

    listRegistrations: unary(log, 'ListRegistrations', async (call) => {
      const req = validate(listRequest, call.request);
      const studentId = studentIdFor(principalOf(call), req.studentId);
      const size = pageSizeOf(req.pageSize);
      const filters = { studentId, termCode: req.termCode };
      const after = decodePageToken<{ createdAt: string; id: string }>(req.pageToken, filters);
      const rows = await repo.pageOfStudent(db, studentId, req.termCode || undefined, size, after);
      const page = rows.slice(0, size);
      const last = page[page.length - 1];
      return {
        registrations: await Promise.all(page.map(view)),
        nextPageToken: rows.length > size ? encodePageToken({ createdAt: last.created_at.toISOString(), id: last.id }, filters) : '',
      };
    }),

    getSchedule: unary(log, 'GetSchedule', async (call) => {
      const req = validate(scheduleRequest, call.request);
      const studentId = studentIdFor(principalOf(call), req.studentId);
      const live = await repo.liveOfStudents(db, [studentId], req.termCode);
      const sections = await findSections(db, live.map((r) => r.section_id));
      const maxCredits = await deps.eligibility.maxCreditsOf(studentId);
      const entries: ScheduleEntry[] = await Promise.all(
        live
          .sort((a, b) => a.course_code.localeCompare(b.course_code))
          .map(async (r) => {
            const s = sections.get(r.section_id);
            return {
              registration: await view(r),
              courseTitle: s?.courseTitle ?? '',
              sectionCode: s?.sectionCode ?? '',
              instructor: s?.instructor ?? '',
              meetingTimes: (s?.meetings ?? []).map((m) => ({ days: daysOf(m.days), startTime: clockOf(m.startMinute), endTime: clockOf(m.endMinute), room: m.room })),
            };
          }),
      );
      const credits = new Map(live.filter((r) => r.state === 'ENROLLED').map((r) => [r.course_code, r.credits]));
      return { entries, enrolledCredits: [...credits.values()].reduce((a, b) => a + b, 0), maxCredits };
    }),

    getWaitlistPosition: unary(log, 'GetWaitlistPosition', async (call) => {
      const req = validate(positionRequest, call.request);
      const studentId = studentIdFor(principalOf(call), req.studentId);
      const live = await repo.findLive(db, studentId, req.sectionId);
      if (!live || live.state !== 'WAITLISTED') throw failedPrecondition('NOT_WAITLISTED', 'You are not on the waitlist of this section.', { section_id: req.sectionId });
      const position = await positionOf(live);
      const counts = await seats.counts(req.sectionId);
      return { position, waitlistedCount: counts?.waitlisted ?? 0 };
    }),

    drop: unary(log, 'Drop', async (call) => {
      const req = validate(registerRequest, call.request);
      const principal = principalOf(call);
      const studentId = studentIdFor(principal, req.studentId);
      const previous = await findEventByRequest(db, studentId, 'DROPPED', req.requestId);
      if (previous?.registration_id) {
        const row = await repo.findRegistration(db, previous.registration_id);
        if (row) return { registration: await view(row), promoted: undefined };
      }
      const out = await decider.drop({ studentId, sectionId: req.sectionId, requestId: req.requestId, actor: actorOf(principal) });
      return { registration: await view(out.dropped), promoted: out.promoted ? await view(out.promoted) : undefined };
    }),

    swap: unary(log, 'Swap', async (call) => {
      const req = validate(swapRequest, call.request);
      const principal = principalOf(call);
      const studentId = studentIdFor(principal, req.studentId);
      const repeat = async () => {
        const added = (await repo.findByRequests(db, [{ studentId, requestId: req.requestId }]))[0];
        const out = await findEventByRequest(db, studentId, 'SWAPPED_OUT', req.requestId);
        const dropped = out?.registration_id ? await repo.findRegistration(db, out.registration_id) : undefined;
        return added && dropped ? { dropped: await view(dropped), added: await view(added) } : undefined;
      };
      const earlier = await repeat();
      if (earlier) return earlier;
      try {
        const out = await decider.swap({ studentId, dropSectionId: req.dropSectionId, addSectionId: req.addSectionId, requestId: req.requestId, actor: actorOf(principal) });
        return { dropped: await view(out.dropped), added: await view(out.added) };
      } catch (err) {
        if (isUniqueViolation(err, 'registrations_request_key')) {
          const again = await repeat();
          if (again) return again;
          throw failedPrecondition('REQUEST_ID_REUSED', 'This request id was already used for another request; use a new one.');
        }
        throw err;
      }
    }),

    grantCapacityOverride: unary(log, 'GrantCapacityOverride', async (call) => {
      const req = validate(overrideRequest, call.request);
      const principal = principalOf(call);
      requireRole(principal, 'registrar');
      const section = (await findSections(db, [req.sectionId])).get(req.sectionId);
      if (!section) throw notFound('SECTION_NOT_FOUND', `No section ${req.sectionId} exists.`);
      const [event] = await db.transaction().execute(async (trx) => {
        await grantPermit(trx, { studentId: req.studentId, sectionId: req.sectionId, reason: req.reason, grantedBy: actorOf(principal) });
        return appendAudit(trx, [
          { kind: 'CAPACITY_OVERRIDE_GRANTED', actor: actorOf(principal), studentId: req.studentId, sectionId: req.sectionId, registrationId: null, requestId: '', beforeState: '', afterState: '', reasonCode: '' },
        ]);
      });
      await seats.forget(req.sectionId); // reload with the permit on next use
      return { event: auditView(event) };
    }),
  };
}


/** DayOfWeek values of a days bit set. */
export function daysOf(mask: number): DayOfWeek[] {
  return [1, 2, 3, 4, 5, 6, 7].filter((d) => (mask & (1 << d)) !== 0) as DayOfWeek[];
}
