import { z } from 'zod';
import { Grade, type Course, type Prerequisite } from '../../../../gen/coursereg/course/v1/course';
import { enumCodec, etags } from '../../../shared/src/enums';
import { rules } from '../../../shared/src/validation';
import type { CourseRow, CourseValues } from './courses.repository';

export const grade = enumCodec(Grade, 'GRADE_');
export const COURSE_MUTABLE = ['title', 'description', 'credits', 'prerequisite', 'corequisite_codes'] as const;
export const MAX_PREREQUISITE_DEPTH = 4;
export const MAX_PREREQUISITE_COURSES = 32;

export const courseCode = rules.courseCode;
export const departmentCode = () => z.string().regex(/^[A-Z]{2,8}$/, 'must be 2 to 8 upper-case letters');

/** Stored form of a prerequisite expression (JSONB). */
export type StoredPrerequisite = { course: string; min?: string } | { all: StoredPrerequisite[] } | { any: StoredPrerequisite[] };

const prerequisiteSchema: z.ZodType<Prerequisite> = z.lazy(() =>
  z.object({
    expr: z.discriminatedUnion('$case', [
      z.object({
        $case: z.literal('course'),
        course: z.object({
          courseCode: courseCode(),
          minGrade: z.number().refine((g) => g === 0 || (g > 0 && Grade[g] !== undefined), 'must be a known grade'),
        }),
      }),
      z.object({ $case: z.literal('allOf'), allOf: z.object({ items: z.array(prerequisiteSchema).min(1, 'must not be empty') }) }),
      z.object({ $case: z.literal('anyOf'), anyOf: z.object({ items: z.array(prerequisiteSchema).min(1, 'must not be empty') }) }),
    ], { errorMap: () => ({ message: 'must be a course, all_of or any_of' }) }),
  }),
) as z.ZodType<Prerequisite>;

/** Every course code named in an expression, and its nesting depth. */
export function prerequisiteShape(p: Prerequisite | undefined): { codes: string[]; depth: number } {
  if (!p?.expr) return { codes: [], depth: 0 };
  if (p.expr.$case === 'course') return { codes: [p.expr.course.courseCode], depth: 1 };
  const items = p.expr.$case === 'allOf' ? p.expr.allOf.items : p.expr.anyOf.items;
  const parts = items.map(prerequisiteShape);
  return { codes: parts.flatMap((x) => x.codes), depth: 1 + Math.max(0, ...parts.map((x) => x.depth)) };
}

export const courseSchema = z
  .object({
    code: courseCode(),
    title: rules.text(200),
    description: rules.optionalText(4000),
    credits: z.number().int().min(0, 'must be 0 to 12').max(12, 'must be 0 to 12'),
    department: departmentCode(),
    prerequisite: prerequisiteSchema.optional(),
    corequisiteCodes: z.array(courseCode()).max(10, 'must have at most 10 entries'),
  })
  .superRefine((c, ctx) => {
    if (courseCode().safeParse(c.code).success && c.code.split(' ')[0] !== c.department) ctx.addIssue({ code: 'custom', path: ['department'], message: 'must match the prefix of code' });
    const shape = prerequisiteShape(c.prerequisite);
    if (shape.depth > MAX_PREREQUISITE_DEPTH) ctx.addIssue({ code: 'custom', path: ['prerequisite'], message: `must nest at most ${MAX_PREREQUISITE_DEPTH} levels` });
    if (shape.codes.length > MAX_PREREQUISITE_COURSES) ctx.addIssue({ code: 'custom', path: ['prerequisite'], message: `must name at most ${MAX_PREREQUISITE_COURSES} courses` });
    if (shape.codes.includes(c.code)) ctx.addIssue({ code: 'custom', path: ['prerequisite'], message: 'must not name the course itself' });
    if (c.corequisiteCodes.includes(c.code)) ctx.addIssue({ code: 'custom', path: ['corequisiteCodes'], message: 'must not name the course itself' });
    if (new Set(c.corequisiteCodes).size !== c.corequisiteCodes.length) ctx.addIssue({ code: 'custom', path: ['corequisiteCodes'], message: 'must not repeat a course' });
  });

export type ValidCourse = z.infer<typeof courseSchema>;

export function toStored(p: Prerequisite | undefined): StoredPrerequisite | null {
  if (!p?.expr) return null;
  switch (p.expr.$case) {
    case 'course':
      return p.expr.course.minGrade ? { course: p.expr.course.courseCode, min: grade.toDb(p.expr.course.minGrade) } : { course: p.expr.course.courseCode };
    case 'allOf':
      return { all: p.expr.allOf.items.map((i) => toStored(i)!) };
    case 'anyOf':
      return { any: p.expr.anyOf.items.map((i) => toStored(i)!) };
  }
}

export function fromStored(s: StoredPrerequisite | null): Prerequisite | undefined {
  if (!s) return undefined;
  if ('course' in s) return { expr: { $case: 'course', course: { courseCode: s.course, minGrade: s.min ? (grade.fromDb(s.min) as Grade) : Grade.GRADE_UNSPECIFIED } } };
  if ('all' in s) return { expr: { $case: 'allOf', allOf: { items: s.all.map((i) => fromStored(i)!) } } };
  return { expr: { $case: 'anyOf', anyOf: { items: s.any.map((i) => fromStored(i)!) } } };
}

export function courseToValues(c: ValidCourse): CourseValues {
  return {
    code: c.code,
    title: c.title,
    description: c.description,
    credits: c.credits,
    department: c.department,
    prerequisite: toStored(c.prerequisite),
  };
}

export function courseFromRow(r: CourseRow): Course {
  return {
    code: r.code,
    title: r.title,
    description: r.description,
    credits: r.credits,
    department: r.department,
    prerequisite: fromStored(r.prerequisite as StoredPrerequisite | null),
    corequisiteCodes: r.corequisite_codes,
    etag: etags.of(r.version),
    createTime: r.created_at,
    updateTime: r.updated_at,
  };
}

