import * as grpc from '@grpc/grpc-js';
import { StudentServiceClient, type ListStudentsResponse } from '../../../../gen/coursereg/student/v1/student_service';
import type { TokenSigner } from '../../../shared/src/auth';
import type { Logger } from '../../../shared/src/logger';
import { rules } from '../../../shared/src/validation';
import type { PlainHandler } from '../proxy/gateway';

const SUBJECT = /^[A-Za-z0-9_.@-]{1,64}$/;

/**
 * Development sign-in for the web client, answered by the gateway only when
 * GATEWAY_DEV_TOKENS is on (404 otherwise):
 * - GET /dev/identities → demo students and a registrar to sign in as
 * - POST /dev/token {"role":"student","studentId":"S0001"} or {"role":"registrar","subject":"registrar-dev"}
 *   → {"token","expiresAt"}
 * Production signs users in through the university's identity provider instead.
 */
export function devSignIn(opts: { enabled: boolean; signer?: TokenSigner; studentAddrs: string[]; ttlSeconds: number; log: Logger }): { handler: PlainHandler; close(): void } {
  // One client per student host; the list is asked of each in turn until one answers.
  const students = opts.enabled ? opts.studentAddrs.map((a) => new StudentServiceClient(a, grpc.credentials.createInsecure())) : [];

  const json = (ds: Parameters<PlainHandler>[0], cors: Readonly<Record<string, string>>, status: number, body: unknown) => {
    ds.sendHeaders(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...cors });
    ds.write(JSON.stringify(body));
    ds.end();
  };

  const listStudents = async (): Promise<ListStudentsResponse> => {
    const token = await opts.signer!.sign('gateway-dev-sign-in', 'service', 60);
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    let last: unknown;
    for (const client of students) {
      try {
        return await new Promise<ListStudentsResponse>((resolve, reject) => {
          client.listStudents({ pageSize: 24, pageToken: '', query: '' }, md, { deadline: Date.now() + 3000 }, (err, res) => (err ? reject(err) : resolve(res)));
        });
      } catch (err) {
        // A host that is down or too slow: try the next one. Any other answer is final.
        const code = (err as grpc.ServiceError).code;
        if (code !== grpc.status.UNAVAILABLE && code !== grpc.status.DEADLINE_EXCEEDED) throw err;
        last = err;
      }
    }
    throw last ?? new Error('no student service address is configured');
  };

  const handler: PlainHandler = async (ds, cors) => {
    if (!opts.enabled || !opts.signer) {
      json(ds, cors, 404, { error: 'development sign-in is disabled (set GATEWAY_DEV_TOKENS=true on a development gateway)' });
      return;
    }
    try {
      if (ds.method === 'GET' && ds.path === '/dev/identities') {
        const res = await listStudents();
        json(ds, cors, 200, {
          students: res.students.map((s) => ({ studentId: s.id, name: s.name })),
          registrars: [{ subject: 'registrar-dev', name: 'Registrar (development)' }],
        });
        return;
      }
      if (ds.method === 'POST' && ds.path === '/dev/token') {
        let body: { role?: unknown; studentId?: unknown; subject?: unknown };
        try {
          body = JSON.parse((await ds.readBody(4096)).toString('utf8')) as typeof body;
        } catch {
          json(ds, cors, 400, { error: 'expected a JSON body' });
          return;
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          json(ds, cors, 400, { error: 'expected a JSON object: {"role":"student","studentId":…} or {"role":"registrar","subject":…}' });
          return;
        }
        if (body.role === 'student' && typeof body.studentId === 'string' && rules.studentId().safeParse(body.studentId).success) {
          const token = await opts.signer.sign(body.studentId, 'student', opts.ttlSeconds);
          json(ds, cors, 200, { token, expiresAt: new Date(Date.now() + opts.ttlSeconds * 1000).toISOString() });
          return;
        }
        if (body.role === 'registrar' && typeof body.subject === 'string' && SUBJECT.test(body.subject)) {
          const token = await opts.signer.sign(body.subject, 'registrar', opts.ttlSeconds);
          json(ds, cors, 200, { token, expiresAt: new Date(Date.now() + opts.ttlSeconds * 1000).toISOString() });
          return;
        }
        json(ds, cors, 400, { error: 'role must be "student" with a studentId such as S0001, or "registrar" with a subject' });
        return;
      }
      json(ds, cors, 404, { error: 'unknown development endpoint' });
    } catch (err) {
      opts.log.warn({ err: (err as Error).message }, 'development sign-in failed');
      json(ds, cors, 503, { error: `the student service did not answer: ${(err as Error).message}` });
    }
  };
  return { handler, close: () => students.forEach((c) => c.close()) };
}
