import { z } from 'zod';
import { Term, TermStatus } from '../../../../gen/coursereg/course/v1/course';
import { enumCodec, etags } from '../../../shared/src/enums';
import { rules } from '../../../shared/src/validation';
import type { TermRow, TermValues } from './terms.repository';

export const termStatus = enumCodec<typeof TermStatus, TermRow['status']>(TermStatus, 'TERM_STATUS_');
export const TERM_MUTABLE = ['name', 'start_date', 'end_date', 'registration_opens_time', 'add_drop_deadline_time', 'status'] as const;

export const termCode = rules.termCode;

const termFields = z.object({
  code: termCode(),
  name: rules.text(100),
  startDate: rules.isoDate(),
  endDate: rules.isoDate(),
  registrationOpensTime: z.date({ required_error: 'is required' }),
  addDropDeadlineTime: z.date({ required_error: 'is required' }),
  status: rules.enumValue(TermStatus, 'term status'),
});

/** A complete, consistent term as callers send it. */
export const termSchema = termFields
  .refine((t) => t.endDate >= t.startDate, { path: ['endDate'], message: 'must not be before start_date' })
  .refine((t) => t.addDropDeadlineTime > t.registrationOpensTime, {
    path: ['addDropDeadlineTime'],
    message: 'must be after registration_opens_time',
  });

export function termToValues(t: z.infer<typeof termSchema>): TermValues {
  return {
    code: t.code,
    name: t.name,
    start_date: t.startDate,
    end_date: t.endDate,
    registration_opens_at: t.registrationOpensTime,
    add_drop_deadline_at: t.addDropDeadlineTime,
    status: termStatus.toDb(t.status),
  };
}

export function termFromRow(r: TermRow): Term {
  return {
    code: r.code,
    name: r.name,
    startDate: r.start_date,
    endDate: r.end_date,
    registrationOpensTime: r.registration_opens_at,
    addDropDeadlineTime: r.add_drop_deadline_at,
    status: termStatus.fromDb(r.status),
    etag: etags.of(r.version),
    createTime: r.created_at,
    updateTime: r.updated_at,
  };
}

