import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { RegisterRequest, RegisterResponse, RegistrationServiceClient } from '../gen/coursereg/registration/v1/registration_service';
import { TokenSigner } from '../services/shared/src/auth';
import { decodeServiceError } from '../services/shared/src/errors';
import { emptyClientResult, type ClientResult } from './lib/client-result';
import { H2GrpcClient } from './lib/h2grpc';

/**
 * One load-generating process of the rush benchmark, separate from the services.
 * It reads its share of the plan, signs every student's token and connects its
 * channels before the clock starts, tells the parent it is ready, and on "go"
 * keeps `concurrency` Register calls in flight until its share is sent. Each
 * request's first send time, answer time and outcome go to a result file.
 *
 * Transient answers (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED without
 * SECTION_FULL) are retried with the same request_id, as a real client would;
 * latency still counts from the first send.
 */
export interface ClientPlan {
  addr: string;
  /** 'http2': the lean wire client (default); 'grpc-js': the generated grpc-js client. */
  transport: 'http2' | 'grpc-js';
  concurrency: number;
  channels: number;
  privateKeyFile: string;
  issuer: string;
  audience: string;
  /** [studentId, sectionId, requestId] */
  requests: [string, string, string][];
  resultFile: string;
  callDeadlineMs: number;
  maxAttempts: number;
  /** Stop starting new requests this long after "go" (the rest are reported unsent). */
  durationCapMs: number;
}

export type { ClientResult };

type Msg = { type: 'go' };

const now = () => performance.timeOrigin + performance.now();
const TRANSIENT = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.CANCELLED]);

async function main(): Promise<void> {
  const plan = JSON.parse(readFileSync(process.argv[2], 'utf8')) as ClientPlan;
  const n = plan.requests.length;

  const t0 = now();
  const signer = await TokenSigner.fromFile(plan.privateKeyFile, plan.issuer, plan.audience);
  const tokens = new Map<string, string>();
  for (const [studentId] of plan.requests) {
    if (!tokens.has(studentId)) tokens.set(studentId, `Bearer ${await signer.sign(studentId, 'student', 4 * 3600)}`);
  }
  const signMs = now() - t0;

  const t1 = now();
  const call = plan.transport === 'grpc-js' ? await grpcJsCaller(plan) : await http2Caller(plan);
  const connectMs = now() - t1;

  const result: ClientResult = { ...emptyClientResult(n), signMs, connectMs };


  await new Promise<void>((resolve) => {
    process.on('message', (m: Msg) => {
      if (m.type === 'go') resolve();
    });
    process.send!({ type: 'ready', signMs, connectMs });
  });

  const start = now();
  const cpuStart = process.cpuUsage();
  let next = 0;
  const attempt = async (i: number): Promise<void> => {
    const [studentId, sectionId, requestId] = plan.requests[i];
    for (;;) {
      result.attempts[i]++;
      const out = await call.register({ sectionId, requestId, studentId }, tokens.get(studentId)!);
      const at = now();
      const transient = out.code !== 0 && TRANSIENT.has(out.code) && out.reason !== 'SECTION_FULL';
      if (transient && result.attempts[i] < plan.maxAttempts) {
        await new Promise((r) => setTimeout(r, out.retryDelayMs ?? 50 * result.attempts[i]));
        continue;
      }
      result.resp[i] = at;
      result.code[i] = out.code;
      result.reason[i] = out.reason;
      result.state[i] = out.state;
      result.regId[i] = out.regId;
      return;
    }
  };
  const lane = async () => {
    while (next < n) {
      if (now() - start > plan.durationCapMs) return;
      const i = next++;
      result.send[i] = now();
      await attempt(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, n) }, lane));
  const cpu = process.cpuUsage(cpuStart);
  result.cpuSeconds = (cpu.user + cpu.system) / 1e6;

  writeFileSync(plan.resultFile, JSON.stringify(result));
  call.close();
  process.send!({ type: 'done' }, () => process.exit(0));
}

interface Outcome {
  code: number;
  reason: string;
  retryDelayMs?: number;
  state: number;
  regId: string;
}

interface Caller {
  register(req: RegisterRequest, authorization: string): Promise<Outcome>;
  close(): void;
}

const REGISTER_PATH = '/coursereg.registration.v1.RegistrationService/Register';

async function http2Caller(plan: ClientPlan): Promise<Caller> {
  const client = new H2GrpcClient(plan.addr, plan.channels);
  await client.connect();
  return {
    async register(req, authorization) {
      const res = await client.unary(REGISTER_PATH, RegisterRequest.encode(req).finish(), authorization, plan.callDeadlineMs);
      if (res.code === 0) {
        const reg = RegisterResponse.decode(res.body!).registration;
        return { code: 0, reason: '', state: reg?.state ?? 0, regId: reg?.id ?? '' };
      }
      return { code: res.code, reason: res.error?.reason ?? '', retryDelayMs: res.error?.retryDelayMs, state: 0, regId: '' };
    },
    close: () => client.close(),
  };
}

async function grpcJsCaller(plan: ClientPlan): Promise<Caller> {
  const clients = Array.from(
    { length: plan.channels },
    (_, i) =>
      new RegistrationServiceClient(plan.addr, grpc.credentials.createInsecure(), {
        // Separate subchannels, so the process really uses `channels` HTTP/2 connections.
        'grpc.use_local_subchannel_pool': 1,
        'grpc.bench_channel': i,
      } as Partial<grpc.ClientOptions>),
  );
  await Promise.all(
    clients.map((c) => new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + 30_000, (err) => (err ? reject(err) : resolve())))),
  );
  let next = 0;
  return {
    register(req, authorization) {
      const md = new grpc.Metadata();
      md.set('authorization', authorization);
      return new Promise((resolve) => {
        clients[next++ % clients.length].register(req, md, { deadline: Date.now() + plan.callDeadlineMs }, (err: grpc.ServiceError | null, res: RegisterResponse) => {
          if (!err) {
            resolve({ code: 0, reason: '', state: res.registration?.state ?? 0, regId: res.registration?.id ?? '' });
            return;
          }
          const decoded = decodeServiceError(err);
          resolve({ code: err.code, reason: decoded.reason ?? '', retryDelayMs: decoded.retryDelayMs, state: 0, regId: '' });
        });
      });
    },
    close: () => clients.forEach((c) => c.close()),
  };
}

main().catch((err: unknown) => {
  console.error(`rush client failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
