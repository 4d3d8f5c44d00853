import { z } from 'zod';
import type { StudentServiceServer } from '../../../../gen/coursereg/student/v1/student_service';
import { principalOf, requireRole, requireSelfOrStaff } from '../../../shared/src/auth';
import { isUniqueViolation } from '../../../shared/src/db';
import { etags } from '../../../shared/src/enums';
import { aborted, alreadyExists, invalidArgument } from '../../../shared/src/errors';
import { resolveUpdateMask } from '../../../shared/src/fieldmask';
import { decodePageToken, encodePageToken, pageSizeOf } from '../../../shared/src/pagination';
import { unary } from '../../../shared/src/server';
import { rules, validate } from '../../../shared/src/validation';
import type { StudentDeps } from '../deps';
import * as repo from './students.repository';
import { maskedFields, patchToValues, STUDENT_MUTABLE, studentFromRow, studentId, studentNotFound, studentPatchSchema, studentSchema, studentToValues } from './students.service';

type StudentHandlers = Pick<StudentServiceServer, 'createStudent' | 'getStudent' | 'listStudents' | 'updateStudent'>;

const listRequest = z.object({ pageSize: rules.pageSize(), pageToken: z.string().max(512), query: rules.optionalText(100) });

/** ALREADY_EXISTS for a unique violation on the id or the email; anything else unchanged. */
function mapUniqueViolation(err: unknown, id: string): unknown {
  if (isUniqueViolation(err, 'students_pkey')) return alreadyExists('STUDENT_EXISTS', `student ${id} already exists`);
  if (isUniqueViolation(err, 'students_email_key')) return alreadyExists('EMAIL_TAKEN', 'another student already has that email address');
  return err;
}

export function studentHandlers({ db, log }: StudentDeps): StudentHandlers {
  return {
    createStudent: unary(log, 'CreateStudent', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const student = validate(z.object({ student: studentSchema }, { required_error: 'is required' }), call.request).student;
      try {
        return { student: studentFromRow(await repo.insertStudent(db, studentToValues(student))) };
      } catch (err) {
        throw mapUniqueViolation(err, student.id);
      }
    }),

    getStudent: unary(log, 'GetStudent', async (call) => {
      const { id } = validate(z.object({ id: studentId() }), call.request);
      requireSelfOrStaff(principalOf(call), id);
      const row = await repo.findStudent(db, id);
      if (!row) throw studentNotFound(id);
      return { student: studentFromRow(row) };
    }),

    listStudents: unary(log, 'ListStudents', async (call) => {
      requireRole(principalOf(call), 'registrar', 'service');
      const req = validate(listRequest, call.request);
      const filters = { query: req.query.trim() };
      const size = pageSizeOf(req.pageSize);
      const after = decodePageToken<unknown>(req.pageToken, ['students', filters]);
      if (after !== undefined && typeof after !== 'string') throw invalidArgument([{ field: 'page_token', description: 'is not a token this service issued' }]);
      const rows = await repo.listStudents(db, size + 1, filters, after);
      const page = rows.slice(0, size);
      return {
        students: page.map(studentFromRow),
        nextPageToken: rows.length > size ? encodePageToken(page[page.length - 1].id, ['students', filters]) : '',
      };
    }),

    updateStudent: unary(log, 'UpdateStudent', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const patch = validate(z.object({ student: z.object({ id: studentId(), etag: z.string() }).passthrough() }, { required_error: 'is required' }), call.request).student;
      const mask = resolveUpdateMask(call.request.updateMask, STUDENT_MUTABLE);
      const version = etags.require(patch.etag, 'student.etag');
      const changes = validate(z.object({ student: studentPatchSchema }), { student: maskedFields(call.request.student!, mask) }).student;
      try {
        const row = await db.transaction().execute(async (trx) => {
          const current = await repo.lockStudent(trx, patch.id);
          if (!current) throw studentNotFound(patch.id);
          if (current.version !== version) throw aborted(`student ${patch.id} was changed by someone else; read it again`);
          return repo.updateStudent(trx, patch.id, patchToValues(changes));
        });
        return { student: studentFromRow(row) };
      } catch (err) {
        throw mapUniqueViolation(err, patch.id);
      }
    }),
  };
}

