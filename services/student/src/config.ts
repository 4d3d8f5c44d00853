import { address, loadConfig, port } from '../../shared/src/config';

/** The student service's settings, read once from the environment. */
export const readStudentConfig = (env?: Record<string, string | undefined>) =>
  loadConfig(
    {
      STUDENT_GRPC_ADDR: address('127.0.0.1:50052'),
      STUDENT_METRICS_PORT: port(9452),
      COURSE_SERVICE_ADDR: address('127.0.0.1:50051'),
    },
    env,
  );

export type StudentConfig = ReturnType<typeof readStudentConfig>;
