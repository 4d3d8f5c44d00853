import { GenerationCache } from '../../shared/src/cache';
import { startService } from '../../shared/src/bootstrap';
import { onShutdownSignal } from '../../shared/src/lifecycle';
import { readCourseConfig } from './config';
import type { CourseDatabase } from './db';
import { courseMigrations } from './migrations';
import { createCourseService } from './service';

/** Starts the course service with the given environment (the process's by default). */
export async function startCourseService(env?: Record<string, string | undefined>) {
  const config = readCourseConfig(env);
  return startService<CourseDatabase>({
    name: 'course',
    config,
    grpcAddr: config.COURSE_GRPC_ADDR,
    metricsPort: config.COURSE_METRICS_PORT,
    schema: 'course',
    migrations: courseMigrations,
    build: async ({ db, redis, log }) => ({
      services: [createCourseService({ db, log, cache: new GenerationCache(redis, 'catalog', config.CATALOG_CACHE_TTL_SECONDS) })],
    }),
  });
}

if (require.main === module) {
  startCourseService().then(
    (svc) => onShutdownSignal(svc.log, svc.stop),
    (err: unknown) => {
      console.error(`course service failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
