import { z } from 'zod';
import { ClassStanding, type Student } from '../../../../gen/coursereg/student/v1/student';
import { enumCodec, etags } from '../../../shared/src/enums';
import { notFound } from '../../../shared/src/errors';
import { rules } from '../../../shared/src/validation';
import type { ClassStandingName } from '../db';
import type { StudentRow, StudentValues } from './students.repository';

export const classStanding = enumCodec<typeof ClassStanding, ClassStandingName>(ClassStanding, 'CLASS_STANDING_');
export const STUDENT_MUTABLE = ['name', 'email', 'program', 'class_standing', 'max_credits'] as const;
export type StudentField = (typeof STUDENT_MUTABLE)[number];

export const studentNotFound = (id: string) => notFound('STUDENT_NOT_FOUND', `no student ${id}`, { student_id: id });

export const studentId = rules.studentId;

const mutableFields = {
  name: rules.text(200),
  email: rules.text(254).email('must be an email address'),
  program: rules.optionalText(100),
  classStanding: rules.enumValue(ClassStanding, 'class standing'),
  maxCredits: z.number().int('must be a whole number').min(1, 'must be 1 to 40').max(40, 'must be 1 to 40'),
};

/** A complete student as callers send it to CreateStudent. */
export const studentSchema = z.object({ id: studentId(), ...mutableFields });
export type ValidStudent = z.infer<typeof studentSchema>;

/** The changed fields of an update; only the masked ones are present, and each is checked like on create. */
export const studentPatchSchema = z.object(mutableFields).partial();
export type StudentPatch = z.infer<typeof studentPatchSchema>;

const FIELD_KEYS: Record<StudentField, keyof StudentPatch> = {
  name: 'name',
  email: 'email',
  program: 'program',
  class_standing: 'classStanding',
  max_credits: 'maxCredits',
};

/** The values of the masked fields of `patch`, for validation with {@link studentPatchSchema}. */
export function maskedFields(patch: Student, mask: Set<StudentField>): Record<string, unknown> {
  const source = patch as unknown as Record<string, unknown>;
  return Object.fromEntries([...mask].map((f) => [FIELD_KEYS[f], source[FIELD_KEYS[f]]]));
}

export function studentToValues(s: ValidStudent): StudentValues {
  return {
    id: s.id,
    name: s.name,
    email: s.email,
    program: s.program,
    class_standing: classStanding.toDb(s.classStanding),
    max_credits: s.maxCredits,
  };
}

/** Column values for a validated patch. */
export function patchToValues(p: StudentPatch): Partial<StudentValues> {
  const out: Partial<StudentValues> = {};
  if (p.name !== undefined) out.name = p.name;
  if (p.email !== undefined) out.email = p.email;
  if (p.program !== undefined) out.program = p.program;
  if (p.classStanding !== undefined) out.class_standing = classStanding.toDb(p.classStanding);
  if (p.maxCredits !== undefined) out.max_credits = p.maxCredits;
  return out;
}

export function studentFromRow(r: StudentRow): Student {
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    program: r.program,
    classStanding: classStanding.fromDb(r.class_standing),
    maxCredits: r.max_credits,
    etag: etags.of(r.version),
    createTime: r.created_at,
    updateTime: r.updated_at,
  };
}
