import type { RegistrationWindow } from '../../../../gen/coursereg/student/v1/student';
import type { WindowRow } from './windows.repository';

export function windowFromRow(r: WindowRow): RegistrationWindow {
  return { studentId: r.student_id, termCode: r.term_code, opensTime: r.opens_at, updateTime: r.updated_at };
}
