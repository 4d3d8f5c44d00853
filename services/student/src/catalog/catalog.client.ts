import * as grpc from '@grpc/grpc-js';
import type { Course, Section, Term } from '../../../../gen/coursereg/course/v1/course';
import type { CourseServiceClient } from '../../../../gen/coursereg/course/v1/course_service';
import { unavailable } from '../../../shared/src/errors';

/** The parts of the course catalog the student service reads. Unknown keys are simply absent. */
export interface Catalog {
  getTerm(code: string): Promise<Term | undefined>;
  getCourses(codes: string[]): Promise<Map<string, Course>>;
  getSections(ids: string[]): Promise<Map<string, Section>>;
}

const BATCH_LIMIT = 200;
const DEADLINE_MS = 5000;
const TRANSIENT = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED]);

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;

/** Reads the catalog through the course service's gRPC API. */
export function createCatalog(client: CourseServiceClient, auth: () => Promise<grpc.Metadata>): Catalog {
  const call = async <Res>(invoke: (md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: Callback<Res>) => unknown): Promise<Res> => {
    const md = await auth();
    return new Promise<Res>((resolve, reject) => {
      invoke(md, { deadline: Date.now() + DEADLINE_MS }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  };
  /** Undefined on NOT_FOUND; transient failures become UNAVAILABLE, anything else stays an internal error. */
  const orMissing = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p;
    } catch (err) {
      const code = (err as grpc.ServiceError).code;
      if (code === grpc.status.NOT_FOUND) return undefined;
      if (TRANSIENT.has(code)) throw unavailable('CATALOG_UNAVAILABLE', 'the course catalog cannot be reached; try again shortly');
      throw err;
    }
  };

  /**
   * Fetches keys in batches of 200. A batch fails as a whole when one key is
   * unknown, so such a batch is fetched again key by key and only the unknown
   * keys go missing.
   */
  const batched = async <T>(
    keys: string[],
    keyOf: (item: T) => string,
    many: (keys: string[]) => Promise<T[]>,
    one: (key: string) => Promise<T>,
  ): Promise<Map<string, T>> => {
    const distinct = [...new Set(keys)];
    const chunks: string[][] = [];
    for (let i = 0; i < distinct.length; i += BATCH_LIMIT) chunks.push(distinct.slice(i, i + BATCH_LIMIT));
    const out = new Map<string, T>();
    await Promise.all(
      chunks.map(async (chunk) => {
        const items = (await orMissing(many(chunk))) ?? (await Promise.all(chunk.map((k) => orMissing(one(k)))));
        for (const item of items) if (item) out.set(keyOf(item), item);
      }),
    );
    return out;
  };

  return {
    async getTerm(code) {
      return (await orMissing(call<{ term?: Term }>((md, o, cb) => client.getTerm({ code }, md, o, cb))))?.term;
    },
    getCourses(codes) {
      return batched<Course>(
        codes,
        (c) => c.code,
        async (chunk) => (await call<{ courses: Course[] }>((md, o, cb) => client.batchGetCourses({ codes: chunk }, md, o, cb))).courses,
        async (code) => (await call<{ course?: Course }>((md, o, cb) => client.getCourse({ code }, md, o, cb))).course!,
      );
    },
    getSections(ids) {
      return batched<Section>(
        ids,
        (s) => s.id,
        async (chunk) => (await call<{ sections: Section[] }>((md, o, cb) => client.batchGetSections({ ids: chunk }, md, o, cb))).sections,
        async (id) => (await call<{ section?: Section }>((md, o, cb) => client.getSection({ id }, md, o, cb))).section!,
      );
    },
  };
}
