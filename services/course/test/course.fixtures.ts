import * as grpc from '@grpc/grpc-js';
import { DayOfWeek, Grade, SectionKind, SectionStatus, TermStatus, type Course, type Section, type Term } from '../../../gen/coursereg/course/v1/course';
import { CourseServiceClient } from '../../../gen/coursereg/course/v1/course_service';
import { createTestEnv, promiseClient, type PromiseClient, type TestEnv } from '../../shared/testing/harness';
import { startCourseService } from '../src/main';

export interface CourseWorld {
  env: TestEnv;
  client: CourseServiceClient;
  api: PromiseClient<CourseServiceClient>;
  registrar: grpc.Metadata;
  student: grpc.Metadata;
  stop(): Promise<void>;
}

/** Starts a real course service on port 0 in its own database and key prefix. */
export async function startCourseWorld(name: string): Promise<CourseWorld> {
  const env = await createTestEnv(name);
  const svc = await startCourseService(env.env);
  const client = new CourseServiceClient(`127.0.0.1:${svc.port}`, grpc.credentials.createInsecure());
  return {
    env,
    client,
    api: promiseClient(client),
    registrar: await env.auth('registrar', 'registrar-1'),
    student: await env.auth('student', 'S0001'),
    async stop() {
      client.close();
      await svc.stop();
      await env.cleanup();
    },
  };
}

export function termInput(code = '2027SP', over: Partial<Term> = {}): Term {
  return {
    code,
    name: `Term ${code}`,
    startDate: '2027-01-11',
    endDate: '2027-05-07',
    registrationOpensTime: new Date('2026-11-01T14:00:00Z'),
    addDropDeadlineTime: new Date('2027-01-25T23:59:00Z'),
    status: TermStatus.TERM_STATUS_OPEN,
    etag: '',
    createTime: undefined,
    updateTime: undefined,
    ...over,
  };
}

export function courseInput(code: string, over: Partial<Course> = {}): Course {
  return {
    code,
    title: `Course ${code}`,
    description: '',
    credits: 3,
    department: code.split(' ')[0],
    prerequisite: undefined,
    corequisiteCodes: [],
    etag: '',
    createTime: undefined,
    updateTime: undefined,
    ...over,
  };
}

export function sectionInput(courseCode: string, sectionCode: string, over: Partial<Section> = {}): Section {
  return {
    id: '',
    courseCode,
    termCode: '2027SP',
    sectionCode,
    kind: SectionKind.SECTION_KIND_LECTURE,
    instructor: 'Ada Lovelace',
    capacity: 30,
    waitlistCapacity: 10,
    meetingTimes: [{ days: [DayOfWeek.DAY_OF_WEEK_MONDAY, DayOfWeek.DAY_OF_WEEK_WEDNESDAY], startTime: '09:00', endTime: '09:50', room: 'ENG 120' }],
    status: SectionStatus.SECTION_STATUS_OPEN,
    linkedSectionIds: [],
    enrolledCount: 0,
    waitlistedCount: 0,
    courseTitle: '',
    credits: 0,
    etag: '',
    createTime: undefined,
    updateTime: undefined,
    ...over,
  };
}

export const requires = (code: string, minGrade = Grade.GRADE_UNSPECIFIED) => ({ expr: { $case: 'course' as const, course: { courseCode: code, minGrade } } });

export async function seedCatalog(w: CourseWorld): Promise<void> {
  await w.api.createTerm({ term: termInput() }, w.registrar);
  await w.api.createCourse({ course: courseInput('CS 101', { title: 'Intro to Programming' }) }, w.registrar);
  await w.api.createCourse({ course: courseInput('CS 201', { title: 'Data Structures', prerequisite: requires('CS 101', Grade.GRADE_C) }) }, w.registrar);
}
