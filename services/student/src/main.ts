import * as grpc from '@grpc/grpc-js';
import { CourseServiceClient } from '../../../gen/coursereg/course/v1/course_service';
import { TokenSigner, serviceAuth } from '../../shared/src/auth';
import { startService } from '../../shared/src/bootstrap';
import { onShutdownSignal } from '../../shared/src/lifecycle';
import { createCatalog } from './catalog/catalog.client';
import { readStudentConfig } from './config';
import type { StudentDatabase } from './db';
import { studentMigrations } from './migrations';
import { createStudentService } from './service';

/** Starts the student service with the given environment (the process's by default). */
export async function startStudentService(env?: Record<string, string | undefined>) {
  const config = readStudentConfig(env);
  return startService<StudentDatabase>({
    name: 'student',
    config,
    grpcAddr: config.STUDENT_GRPC_ADDR,
    metricsPort: config.STUDENT_METRICS_PORT,
    schema: 'student',
    migrations: studentMigrations,
    build: async ({ db, log }) => {
      const signer = await TokenSigner.fromFile(config.JWT_PRIVATE_KEY_FILE, config.JWT_ISSUER, config.JWT_AUDIENCE);
      const courseClient = new CourseServiceClient(config.COURSE_SERVICE_ADDR, grpc.credentials.createInsecure());
      const catalog = createCatalog(courseClient, serviceAuth(signer, 'student-service'));
      return {
        services: [createStudentService({ db, log, catalog })],
        close: async () => courseClient.close(),
      };
    },
  });
}

if (require.main === module) {
  startStudentService().then(
    (svc) => onShutdownSignal(svc.log, svc.stop),
    (err: unknown) => {
      console.error(`student service failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
