import { address, loadConfig, port } from '../../shared/src/config';

/** The course service's settings, read once from the environment. */
export const readCourseConfig = (env?: Record<string, string | undefined>) =>
  loadConfig({ COURSE_GRPC_ADDR: address('127.0.0.1:50051'), COURSE_METRICS_PORT: port(9451) }, env);

export type CourseConfig = ReturnType<typeof readCourseConfig>;
