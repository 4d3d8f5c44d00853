import { z } from 'zod';
import { HoldKind } from '../../../../gen/coursereg/student/v1/student';
import type { StudentServiceServer } from '../../../../gen/coursereg/student/v1/student_service';
import { principalOf, requireRole, requireSelfOrStaff } from '../../../shared/src/auth';
import { isForeignKeyViolation } from '../../../shared/src/db';
import { failedPrecondition, invalidArgument, notFound } from '../../../shared/src/errors';
import { decodePageToken, encodePageToken, pageSizeOf } from '../../../shared/src/pagination';
import { unary } from '../../../shared/src/server';
import { rules, validate } from '../../../shared/src/validation';
import type { StudentDeps } from '../deps';
import { studentExists } from '../students/students.repository';
import { studentId, studentNotFound } from '../students/students.service';
import * as repo from './holds.repository';
import { holdFromRow, holdKind, parseHoldKey } from './holds.service';

type HoldHandlers = Pick<StudentServiceServer, 'placeHold' | 'releaseHold' | 'listHolds'>;

const placeRequest = z.object({ studentId: studentId(), kind: rules.enumValue(HoldKind, 'hold kind'), reason: rules.text(500) });
const listRequest = z.object({ studentId: studentId(), includeReleased: z.boolean(), pageSize: rules.pageSize(), pageToken: z.string().max(512) });

export function holdHandlers({ db, log }: StudentDeps): HoldHandlers {
  return {
    placeHold: unary(log, 'PlaceHold', async (call) => {
      const principal = principalOf(call);
      requireRole(principal, 'registrar');
      const req = validate(placeRequest, call.request);
      try {
        const row = await repo.insertHold(db, { student_id: req.studentId, kind: holdKind.toDb(req.kind), reason: req.reason, placed_by: principal.subject });
        return { hold: holdFromRow(row) };
      } catch (err) {
        if (isForeignKeyViolation(err)) throw studentNotFound(req.studentId);
        throw err;
      }
    }),

    releaseHold: unary(log, 'ReleaseHold', async (call) => {
      const principal = principalOf(call);
      requireRole(principal, 'registrar');
      const { holdId } = validate(z.object({ holdId: rules.uuid() }), call.request);
      const row = await db.transaction().execute(async (trx) => {
        const current = await repo.lockHold(trx, holdId);
        if (!current) throw notFound('HOLD_NOT_FOUND', `no hold ${holdId}`, { hold_id: holdId });
        if (current.released_at !== null) {
          throw failedPrecondition('HOLD_ALREADY_RELEASED', `hold ${holdId} was already released by ${current.released_by}`, { hold_id: holdId });
        }
        return repo.releaseHold(trx, holdId, principal.subject);
      });
      return { hold: holdFromRow(row) };
    }),

    listHolds: unary(log, 'ListHolds', async (call) => {
      const req = validate(listRequest, call.request);
      requireSelfOrStaff(principalOf(call), req.studentId);
      const filters = ['holds', req.studentId, req.includeReleased];
      const size = pageSizeOf(req.pageSize);
      const token = decodePageToken<unknown>(req.pageToken, filters);
      const after = token === undefined ? undefined : parseHoldKey(token);
      if (token !== undefined && !after) throw invalidArgument([{ field: 'page_token', description: 'is not a token this service issued' }]);
      if (!(await studentExists(db, req.studentId))) throw studentNotFound(req.studentId);
      const rows = await repo.listHolds(db, req.studentId, size + 1, req.includeReleased, after);
      const page = rows.slice(0, size);
      const last = page[page.length - 1];
      return {
        holds: page.map(holdFromRow),
        nextPageToken: rows.length > size ? encodePageToken([last.key, last.id], filters) : '',
      };
    }),
  };
}
