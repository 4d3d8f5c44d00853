import { z } from 'zod';
import type { StudentServiceServer } from '../../../../gen/coursereg/student/v1/student_service';
import { principalOf, requireRole, requireSelfOrStaff } from '../../../shared/src/auth';
import { isForeignKeyViolation } from '../../../shared/src/db';
import { notFound } from '../../../shared/src/errors';
import { unary } from '../../../shared/src/server';
import { validate, rules } from '../../../shared/src/validation';
import type { StudentDeps } from '../deps';
import { studentExists } from '../students/students.repository';
import { studentId, studentNotFound } from '../students/students.service';
import * as repo from './windows.repository';
import { windowFromRow } from './windows.service';

const termCode = rules.termCode;

type WindowHandlers = Pick<StudentServiceServer, 'setRegistrationWindow' | 'listRegistrationWindows'>;

const setRequest = z.object({ studentId: studentId(), termCode: termCode(), opensTime: z.date({ required_error: 'is required' }) });

export function windowHandlers({ db, catalog, log }: StudentDeps): WindowHandlers {
  return {
    setRegistrationWindow: unary(log, 'SetRegistrationWindow', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const req = validate(setRequest, call.request);
      if (!(await studentExists(db, req.studentId))) throw studentNotFound(req.studentId);
      if (!(await catalog.getTerm(req.termCode))) throw notFound('TERM_NOT_FOUND', `no term ${req.termCode}`, { term_code: req.termCode });
      try {
        const row = await repo.upsertWindow(db, { student_id: req.studentId, term_code: req.termCode, opens_at: req.opensTime });
        return { window: windowFromRow(row) };
      } catch (err) {
        if (isForeignKeyViolation(err)) throw studentNotFound(req.studentId);
        throw err;
      }
    }),

    listRegistrationWindows: unary(log, 'ListRegistrationWindows', async (call) => {
      const req = validate(z.object({ studentId: studentId() }), call.request);
      requireSelfOrStaff(principalOf(call), req.studentId);
      if (!(await studentExists(db, req.studentId))) throw studentNotFound(req.studentId);
      return { windows: (await repo.windowsOf(db, req.studentId)).map(windowFromRow) };
    }),
  };
}
