import { z } from 'zod';
import type { Course } from '../../../../gen/coursereg/course/v1/course';
import { GetCourseResponse, ListCoursesResponse, type CourseServiceServer } from '../../../../gen/coursereg/course/v1/course_service';
import { principalOf, requireRole } from '../../../shared/src/auth';
import { isForeignKeyViolation, isUniqueViolation } from '../../../shared/src/db';
import { etags } from '../../../shared/src/enums';
import { aborted, alreadyExists, failedPrecondition, notFound } from '../../../shared/src/errors';
import { mergeMasked, resolveUpdateMask } from '../../../shared/src/fieldmask';
import { decodePageToken, encodePageToken, pageSizeOf } from '../../../shared/src/pagination';
import { unary } from '../../../shared/src/server';
import { rules, validate } from '../../../shared/src/validation';
import type { CourseDb } from '../db';
import type { CatalogDeps } from '../deps';
import * as repo from './courses.repository';
import { COURSE_MUTABLE, courseCode, courseFromRow, courseSchema, courseToValues, departmentCode, prerequisiteShape, type ValidCourse } from './courses.service';

type CourseHandlers = Pick<CourseServiceServer, 'createCourse' | 'getCourse' | 'batchGetCourses' | 'listCourses' | 'updateCourse' | 'deleteCourse'>;

const listRequest = z.object({
  pageSize: rules.pageSize(),
  pageToken: z.string().max(512),
  department: z.union([z.literal(''), departmentCode()]),
  query: rules.optionalText(100),
});

export function courseHandlers({ db, cache, log }: CatalogDeps): CourseHandlers {
  const loadCourse = async (code: string): Promise<Course> => {
    const row = await repo.findCourse(db, code);
    if (!row) throw notFound('COURSE_NOT_FOUND', `no course ${code}`, { course_code: code });
    return courseFromRow(row);
  };

  /** Writes requisite rows; unknown courses and cycles are refused. */
  const storeRequisites = async (trx: CourseDb, c: ValidCourse) => {
    const pre = [...new Set(prerequisiteShape(c.prerequisite).codes)];
    const known = await repo.existingCourseCodes(trx, [...pre, ...c.corequisiteCodes]);
    const missing = [...pre, ...c.corequisiteCodes].filter((x) => !known.has(x));
    if (missing.length > 0) {
      throw failedPrecondition('COURSE_NOT_FOUND', `requisites name unknown courses: ${missing.join(', ')}`, { missing_course_codes: missing.join(',') });
    }
    await repo.replaceRequisites(trx, c.code, pre, c.corequisiteCodes);
    if (await repo.hasPrerequisiteCycle(trx, c.code)) {
      throw failedPrecondition('PREREQUISITE_CYCLE', `the prerequisites of ${c.code} would lead back to ${c.code}`);
    }
  };

  return {
    createCourse: unary(log, 'CreateCourse', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const course = validate(z.object({ course: courseSchema }, { required_error: 'is required' }), call.request).course;
      try {
        await db.transaction().execute(async (trx) => {
          await repo.insertCourse(trx, courseToValues(course));
          await storeRequisites(trx, course);
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw alreadyExists('COURSE_EXISTS', `course ${course.code} already exists`);
        throw err;
      }
      await cache.invalidate();
      return { course: await loadCourse(course.code) };
    }),

    getCourse: unary(log, 'GetCourse', async (call) => {
      const { code } = validate(z.object({ code: courseCode() }), call.request);
      return cache.getOrLoad(`course:${code}`, GetCourseResponse, async () => ({ course: await loadCourse(code) }));
    }),

    batchGetCourses: unary(log, 'BatchGetCourses', async (call) => {
      const { codes } = validate(z.object({ codes: z.array(courseCode()).min(1, 'must name at least one course').max(200, 'must name at most 200 courses') }), call.request);
      const byCode = new Map((await repo.findCourses(db, [...new Set(codes)])).map((r) => [r.code, courseFromRow(r)]));
      const missing = codes.find((c) => !byCode.has(c));
      if (missing) throw notFound('COURSE_NOT_FOUND', `no course ${missing}`, { course_code: missing });
      return { courses: codes.map((c) => byCode.get(c)!) };
    }),

    listCourses: unary(log, 'ListCourses', async (call) => {
      const req = validate(listRequest, call.request);
      const filters = { department: req.department, query: req.query.trim() };
      const size = pageSizeOf(req.pageSize);
      const after = decodePageToken<string>(req.pageToken, ['courses', filters]);
      return cache.getOrLoad(`courses:${JSON.stringify([filters, size, req.pageToken])}`, ListCoursesResponse, async () => {
        const rows = await repo.listCourses(db, size + 1, filters, after);
        const page = rows.slice(0, size);
        return {
          courses: page.map(courseFromRow),
          nextPageToken: rows.length > size ? encodePageToken(page[page.length - 1].code, ['courses', filters]) : '',
        };
      });
    }),

    updateCourse: unary(log, 'UpdateCourse', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const patch = validate(z.object({ course: z.object({ code: courseCode(), etag: z.string() }).passthrough() }, { required_error: 'is required' }), call.request).course;
      const mask = resolveUpdateMask(call.request.updateMask, COURSE_MUTABLE);
      const version = etags.require(patch.etag, 'course.etag');
      const current = await loadCourse(patch.code);
      const merged = validate(z.object({ course: courseSchema }), { course: mergeMasked(current, call.request.course!, mask) }).course;
      await db.transaction().execute(async (trx) => {
        const { code, department, ...values } = courseToValues(merged);
        if (!(await repo.updateCourseIfVersion(trx, code, version, values))) {
          throw aborted(`course ${code} was changed by someone else; read it again`);
        }
        await storeRequisites(trx, merged);
      });
      await cache.invalidate();
      return { course: await loadCourse(patch.code) };
    }),

    deleteCourse: unary(log, 'DeleteCourse', async (call) => {
      requireRole(principalOf(call), 'registrar');
      const req = validate(z.object({ code: courseCode(), etag: z.string() }), call.request);
      const version = etags.require(req.etag);
      // Checked first for a clear reason; the foreign keys still guard a section or
      // requisite added concurrently.
      const whyNot = async (trx: CourseDb) => {
        if (await repo.courseHasSections(trx, req.code)) {
          return failedPrecondition('COURSE_HAS_SECTIONS', `course ${req.code} has been offered; it cannot be deleted`);
        }
        const requiring = await repo.coursesRequiring(trx, req.code);
        if (requiring.length > 0) {
          return failedPrecondition('COURSE_IS_REQUIRED', `course ${req.code} is a requisite of ${requiring.join(', ')}`, { required_by: requiring.join(',') });
        }
        return undefined;
      };
      try {
        await db.transaction().execute(async (trx) => {
          if (!(await repo.findCourse(trx, req.code))) throw notFound('COURSE_NOT_FOUND', `no course ${req.code}`, { course_code: req.code });
          const refusal = await whyNot(trx);
          if (refusal) throw refusal;
          if (!(await repo.deleteCourseIfVersion(trx, req.code, version))) {
            throw aborted(`course ${req.code} was changed by someone else; read it again`);
          }
        });
      } catch (err) {
        if (isForeignKeyViolation(err)) throw (await whyNot(db)) ?? err;
        throw err;
      }
      await cache.invalidate();
      return {};
    }),
  };
}
