import { launcherConfig as config } from './config';
import { seed } from './seed/run';

/** `npm run seed`: (re)loads the deterministic demo data. */
seed({ databaseUrl: config.DATABASE_URL, redisUrl: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX, students: config.SEED_STUDENTS, onlyIfEmpty: false }).then(
  (data) => {
    console.log(`seeded term ${data!.term.code}: ${data!.courses.length} courses, ${data!.sections.length} sections, ${data!.students.length} students`);
  },
  (err: unknown) => {
    console.error(`seeding failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
