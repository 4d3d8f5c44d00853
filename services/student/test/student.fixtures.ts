import * as grpc from '@grpc/grpc-js';
import { sql, type Kysely } from 'kysely';
import { CourseServiceClient } from '../../../gen/coursereg/course/v1/course_service';
import { ClassStanding, type Student } from '../../../gen/coursereg/student/v1/student';
import { StudentServiceClient } from '../../../gen/coursereg/student/v1/student_service';
import { startCourseService } from '../../course/src/main';
import { createDb } from '../../shared/src/db';
import { createTestEnv, promiseClient, type PromiseClient, type TestEnv } from '../../shared/testing/harness';
import type { StudentDatabase } from '../src/db';
import { startStudentService } from '../src/main';

export interface StudentWorld {
  env: TestEnv;
  api: PromiseClient<StudentServiceClient>;
  catalog: PromiseClient<CourseServiceClient>;
  db: Kysely<StudentDatabase>;
  registrar: grpc.Metadata;
  service: grpc.Metadata;
  /** Student S0001. */
  student: grpc.Metadata;
  /** Empties the student schema (the catalog stays). */
  truncate(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a real course service and a real student service that calls it, in one fresh database. */
export async function startStudentWorld(name: string): Promise<StudentWorld> {
  const env = await createTestEnv(name);
  const course = await startCourseService(env.env);
  env.env.COURSE_SERVICE_ADDR = `127.0.0.1:${course.port}`;
  const student = await startStudentService(env.env);
  const studentClient = new StudentServiceClient(`127.0.0.1:${student.port}`, grpc.credentials.createInsecure());
  const courseClient = new CourseServiceClient(`127.0.0.1:${course.port}`, grpc.credentials.createInsecure());
  const { db } = createDb<StudentDatabase>(env.databaseUrl, 2);
  return {
    env,
    api: promiseClient(studentClient),
    catalog: promiseClient(courseClient),
    db,
    registrar: await env.auth('registrar', 'registrar-1'),
    service: await env.auth('service', 'registration-service'),
    student: await env.auth('student', 'S0001'),
    async truncate() {
      await sql`TRUNCATE student.registration_windows, student.holds, student.completed_courses, student.students`.execute(db);
    },
    async stop() {
      studentClient.close();
      courseClient.close();
      await db.destroy();
      await student.stop();
      await course.stop();
      await env.cleanup();
    },
  };
}

export function studentInput(id: string, over: Partial<Student> = {}): Student {
  return {
    id,
    name: `Student ${id}`,
    email: `${id.toLowerCase()}@students.example.edu`,
    program: 'Computer Science',
    classStanding: ClassStanding.CLASS_STANDING_SOPHOMORE,
    maxCredits: 18,
    etag: '',
    createTime: undefined,
    updateTime: undefined,
    ...over,
  };
}

/** Creates students as the registrar and returns them. */
export async function createStudents(w: StudentWorld, ...ids: string[]): Promise<Student[]> {
  const out: Student[] = [];
  for (const id of ids) out.push((await w.api.createStudent({ student: studentInput(id) }, w.registrar)).student!);
  return out;
}
