import { z } from 'zod';
import type { RegistrationServiceServer } from '../../../../gen/coursereg/registration/v1/registration_service';
import { principalOf, requireRole, requireSelfOrStaff } from '../../../shared/src/auth';
import { invalidArgument, notFound } from '../../../shared/src/errors';
import { decodePageToken, encodePageToken, pageSizeOf } from '../../../shared/src/pagination';
import { unary } from '../../../shared/src/server';
import { rules, validate } from '../../../shared/src/validation';
import type { RegistrationDeps } from '../deps';
import { findSections } from '../sections/sections.repository';
import { eventsOfSectionUntil, pageOfEvents } from './audit.repository';
import { auditView, replaySection } from './audit.service';

type Handlers = Pick<RegistrationServiceServer, 'listAuditEvents' | 'getSectionSnapshot'>;

export function auditHandlers({ db, log }: RegistrationDeps): Handlers {
  return {
    listAuditEvents: unary(log, 'ListAuditEvents', async (call) => {
      const principal = principalOf(call);
      const subject = call.request.subject;
      if (!subject) throw invalidArgument([{ field: 'subject', description: 'set section_id or student_id' }]);
      const size = validate(z.object({ pageSize: rules.pageSize(500) }), { pageSize: call.request.pageSize }).pageSize;
      let filter: { sectionId: string } | { studentId: string };
      if (subject.$case === 'sectionId') {
        validate(z.object({ sectionId: rules.uuid() }), { sectionId: subject.sectionId });
        requireRole(principal, 'registrar', 'service');
        filter = { sectionId: subject.sectionId };
      } else {
        validate(z.object({ studentId: z.string().min(1, 'is required').max(64) }), { studentId: subject.studentId });
        requireSelfOrStaff(principal, subject.studentId);
        filter = { studentId: subject.studentId };
      }
      const pageSize = pageSizeOf(size);
      const after = decodePageToken<number>(call.request.pageToken, filter);
      const rows = await pageOfEvents(db, filter, pageSize, after === undefined ? undefined : String(after));
      const page = rows.slice(0, pageSize);
      return {
        events: page.map(auditView),
        nextPageToken: rows.length > pageSize ? encodePageToken(Number(page[page.length - 1].sequence), filter) : '',
      };
    }),

    getSectionSnapshot: unary(log, 'GetSectionSnapshot', async (call) => {
      requireRole(principalOf(call), 'registrar', 'service');
      const req = validate(z.object({ sectionId: rules.uuid() }), { sectionId: call.request.sectionId });
      const at = call.request.atTime ?? new Date();
      const section = (await findSections(db, [req.sectionId])).get(req.sectionId);
      if (!section) throw notFound('SECTION_NOT_FOUND', `No section ${req.sectionId} exists.`);
      const replayed = replaySection(await eventsOfSectionUntil(db, req.sectionId, at));
      return {
        seats: {
          sectionId: req.sectionId,
          capacity: section.capacity,
          waitlistCapacity: section.waitlistCapacity,
          enrolledCount: replayed.enrolled.length,
          waitlistedCount: replayed.waitlisted.length,
          observeTime: at,
        },
        enrolledStudentIds: replayed.enrolled,
        waitlistedStudentIds: replayed.waitlisted,
      };
    }),
  };
}
