import { CourseServiceService, type CourseServiceServer } from '../../../gen/coursereg/course/v1/course_service';
import type { HostedService } from '../../shared/src/server';
import { courseHandlers } from './courses/courses.handlers';
import type { CatalogDeps } from './deps';
import { sectionHandlers } from './sections/sections.handlers';
import { termHandlers } from './terms/terms.handlers';

/** The course service as a hostable gRPC service, built from its dependencies. */
export function createCourseService(deps: CatalogDeps): HostedService {
  const implementation: CourseServiceServer = { ...termHandlers(deps), ...courseHandlers(deps), ...sectionHandlers(deps) };
  return {
    name: 'coursereg.course.v1.CourseService',
    protoFile: 'coursereg/course/v1/course_service.proto',
    definition: CourseServiceService,
    implementation,
  };
}
