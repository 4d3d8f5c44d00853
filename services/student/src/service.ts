import { StudentServiceService, type StudentServiceServer } from '../../../gen/coursereg/student/v1/student_service';
import type { HostedService } from '../../shared/src/server';
import type { StudentDeps } from './deps';
import { eligibilityHandlers } from './eligibility/eligibility.handlers';
import { holdHandlers } from './holds/holds.handlers';
import { recordHandlers } from './records/records.handlers';
import { studentHandlers } from './students/students.handlers';
import { windowHandlers } from './windows/windows.handlers';

/** The student service as a hostable gRPC service, built from its dependencies. */
export function createStudentService(deps: StudentDeps): HostedService {
  const implementation: StudentServiceServer = {
    ...studentHandlers(deps),
    ...recordHandlers(deps),
    ...holdHandlers(deps),
    ...windowHandlers(deps),
    ...eligibilityHandlers(deps),
  };
  return {
    name: 'coursereg.student.v1.StudentService',
    protoFile: 'coursereg/student/v1/student_service.proto',
    definition: StudentServiceService,
    implementation,
  };
}
