import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { status as grpcStatus } from '@grpc/grpc-js';
import { ListCoursesRequest, ListCoursesResponse } from '../gen/coursereg/course/v1/course_service';
import { H1GrpcWebClient } from './lib/grpcweb-h1';
import { H2GrpcClient, type UnaryResult } from './lib/h2grpc';

/**
 * One load-generating process of `npm run bench:gateway`, separate from the
 * orchestrator and the services. The orchestrator tells it, phase by phase,
 * which path to drive:
 *
 * - `direct`: native gRPC over HTTP/2 straight to the course service;
 * - `web-h1`: gRPC-web over HTTP/1.1 keep-alive to the gateway (what browsers use);
 * - `web-h2`: gRPC-web over HTTP/2 to the gateway, with the same client code as
 *   `direct` except the content-type, so the difference is the gateway alone;
 * - `bare-h2`, `bare-h1`: the same as `web-h2` and `web-h1`, to bench/lib/bare-proxy.ts
 *   (a reference: what Node's HTTP/2 or HTTP/1.1 server and HTTP/2 client alone
 *   cost, without the gateway's filters);
 * - `cand-h1`, `cand-h2`: as `web-h1` and `web-h2`, to a second gateway started from
 *   `--candidate-entry` (a change measured against the gateway in the same run).
 *
 * For a phase it opens fresh connections ("prepare"), keeps `concurrency` calls
 * of CourseService/ListCourses in flight from "go", counts the answers that
 * arrive between "mark-start" and "mark-end" (the orchestrator reads every
 * process's CPU time at the same two moments), then lets the calls in flight
 * finish, closes its connections and reports. Every answer's grpc-status is
 * checked, and every OK answer's message is compared with the first one (the
 * same page of the same catalog).
 */

export type Target = 'direct' | 'web-h1' | 'web-h2' | 'bare-h1' | 'bare-h2' | 'cand-h1' | 'cand-h2';

export interface GatewayClientPlan {
  index: number;
  directAddr: string;
  gatewayAddr: string;
  /** The bare reference proxy, HTTP/2 and HTTP/1.1 ports, when the run has a bare-* phase. */
  bareAddr?: string;
  bareH1Addr?: string;
  /** The candidate gateway, when the run has cand-* phases. */
  candidateAddr?: string;
  /** Whole authorization header values ("Bearer <jwt>"), one per student; used round robin. */
  tokens: string[];
  concurrency: number;
  h2Connections: number;
  h1Sockets: number;
  pageSize: number;
  callDeadlineMs: number;
}

export type ParentMsg =
  | { type: 'prepare'; target: Target }
  | { type: 'go' }
  | { type: 'mark-start' }
  | { type: 'mark-end' }
  | { type: 'prime'; target: Target }
  | { type: 'exit' };

/** What one process saw in one phase. */
export interface PhaseResult {
  target: Target;
  /** Milliseconds between mark-start and mark-end, on this process's clock. */
  windowMs: number;
  /** Answers (of any status) that arrived in the window. */
  answers: number;
  /** OK answers in the window. */
  ok: number;
  /** Latency of each answer in the window, ms, send to answer. */
  latenciesMs: number[];
  /** Status counts in the window, by code name ("OK", "UNAVAILABLE", ...). */
  codes: Record<string, number>;
  /** Non-OK answers in the window by "CODE reason: message" (first 120 characters). */
  errorDetails: Record<string, number>;
  /** Status counts of answers outside the window (warm-up and drain). */
  codesOutside: Record<string, number>;
  /** OK answers whose message differed from the reference but still held a full page. */
  differentBodies: number;
  /** OK answers whose message was not a full page (counted as errors in `codes` under BAD_BODY). */
  badBodies: number;
  /** Values of the x-ratelimit-limit response header in the window (the tightest limit the gateway checked). */
  rateLimitHeader: Record<string, number>;
  /** Calls sent in the whole phase (warm-up, window, drain). */
  sent: number;
  connectMs: number;
  /** HTTP/1.1 sockets open at the end of the window (web-h1 only). */
  h1Sockets?: number;
  /** Distinct tokens used in the window. */
  tokensUsed: number;
}

const PATH = '/coursereg.course.v1.CourseService/ListCourses';
const WEB_CONTENT_TYPE = 'application/grpc-web+proto';
const now = () => performance.now();

function codeName(code: number): string {
  return grpcStatus[code] ?? `CODE_${code}`;
}

interface Caller {
  call(authorization: string): Promise<UnaryResult>;
  close(): void;
  h1?: H1GrpcWebClient;
}

async function open(plan: GatewayClientPlan, target: Target): Promise<Caller> {
  const request = () => ListCoursesRequest.encode({ pageSize: plan.pageSize, pageToken: '', department: '', query: '' }).finish();
  const addresses: Record<Target, string | undefined> = {
    direct: plan.directAddr,
    'web-h1': plan.gatewayAddr,
    'web-h2': plan.gatewayAddr,
    'bare-h1': plan.bareH1Addr,
    'bare-h2': plan.bareAddr,
    'cand-h1': plan.candidateAddr,
    'cand-h2': plan.candidateAddr,
  };
  const addr = addresses[target];
  if (!addr) throw new Error(`no address for the ${target} phase`);
  if (target.endsWith('-h1')) {
    const h1 = new H1GrpcWebClient(addr, plan.h1Sockets);
    return { call: (auth) => h1.unary(PATH, request(), auth, plan.callDeadlineMs, { captureHeader: 'x-ratelimit-limit' }), close: () => h1.close(), h1 };
  }
  const h2 = new H2GrpcClient(addr, plan.h2Connections);
  await h2.connect();
  const opts = target === 'direct' ? { captureHeader: 'x-ratelimit-limit' } : { contentType: WEB_CONTENT_TYPE, captureHeader: 'x-ratelimit-limit' };
  return { call: (auth) => h2.unary(PATH, request(), auth, plan.callDeadlineMs, opts), close: () => h2.close() };
}

async function main(): Promise<void> {
  const plan = JSON.parse(readFileSync(process.argv[2], 'utf8')) as GatewayClientPlan;
  let reference: Buffer | undefined;
  let nextToken = 0;
  const send = (m: unknown) => process.send!(m);

  /** Checks an answer; returns the status name it counts under. */
  const classify = (r: UnaryResult): { name: string; different: boolean } => {
    if (r.code !== 0) return { name: codeName(r.code), different: false };
    const body = r.body ?? Buffer.alloc(0);
    if (!reference) {
      const first = ListCoursesResponse.decode(body);
      if (first.courses.length !== plan.pageSize) return { name: 'BAD_BODY', different: false };
      reference = Buffer.from(body);
      return { name: 'OK', different: false };
    }
    if (body.equals(reference)) return { name: 'OK', different: false };
    try {
      return ListCoursesResponse.decode(body).courses.length === plan.pageSize ? { name: 'OK', different: true } : { name: 'BAD_BODY', different: false };
    } catch {
      return { name: 'BAD_BODY', different: false };
    }
  };

  let caller: Caller | undefined;
  let target: Target = 'direct';
  let connectMs = 0;
  let phase: {
    running: boolean;
    measuring: boolean;
    windowStart: number;
    windowEnd: number;
    result: PhaseResult;
    tokens: Set<number>;
    lanes: Promise<void>[];
  } | undefined;

  const bump = (m: Record<string, number>, k: string) => {
    m[k] = (m[k] ?? 0) + 1;
  };

  const lane = async () => {
    const p = phase!;
    while (p.running) {
      const ti = nextToken++ % plan.tokens.length;
      const t0 = now();
      p.result.sent++;
      const r = await caller!.call(plan.tokens[ti]);
      const t1 = now();
      const { name, different } = classify(r);
      if (p.measuring) {
        p.result.answers++;
        p.result.latenciesMs.push(Math.round((t1 - t0) * 1000) / 1000);
        bump(p.result.codes, name);
        p.tokens.add(ti);
        if (name === 'OK') p.result.ok++;
        if (different) p.result.differentBodies++;
        if (name === 'BAD_BODY') p.result.badBodies++;
        if (name !== 'OK') bump(p.result.errorDetails, `${name} ${r.error?.reason ?? ''}: ${r.message}`.slice(0, 120));
        if (r.captured !== undefined) bump(p.result.rateLimitHeader, r.captured);
      } else {
        bump(p.result.codesOutside, name);
      }
    }
  };

  process.on('message', (m: ParentMsg) => {
    void (async () => {
      switch (m.type) {
        case 'prepare': {
          target = m.target;
          const t0 = now();
          caller = await open(plan, target);
          connectMs = now() - t0;
          send({ type: 'prepared', index: plan.index });
          return;
        }
        case 'go': {
          phase = {
            running: true,
            measuring: false,
            windowStart: 0,
            windowEnd: 0,
            tokens: new Set(),
            lanes: [],
            result: {
              target,
              windowMs: 0,
              answers: 0,
              ok: 0,
              latenciesMs: [],
              codes: {},
              errorDetails: {},
              codesOutside: {},
              differentBodies: 0,
              badBodies: 0,
              rateLimitHeader: {},
              sent: 0,
              connectMs,
              tokensUsed: 0,
            },
          };
          phase.lanes = Array.from({ length: plan.concurrency }, lane);
          return;
        }
        case 'mark-start':
          phase!.windowStart = now();
          phase!.measuring = true;
          return;
        case 'mark-end': {
          const p = phase!;
          p.windowEnd = now();
          p.measuring = false;
          p.running = false;
          if (caller?.h1) p.result.h1Sockets = caller.h1.openSockets();
          await Promise.all(p.lanes);
          caller!.close();
          caller = undefined;
          p.result.windowMs = p.windowEnd - p.windowStart;
          p.result.tokensUsed = p.tokens.size;
          send({ type: 'result', index: plan.index, result: p.result });
          phase = undefined;
          return;
        }
        case 'prime': {
          // Every token once, so both caches of verified tokens (gateway and service) are warm
          // before anything is measured.
          const c = await open(plan, m.target);
          const codes: Record<string, number> = {};
          let i = 0;
          await Promise.all(
            Array.from({ length: Math.min(plan.concurrency, plan.tokens.length) }, async () => {
              while (i < plan.tokens.length) bump(codes, classify(await c.call(plan.tokens[i++])).name);
            }),
          );
          c.close();
          send({ type: 'primed', index: plan.index, codes });
          return;
        }
        case 'exit':
          process.exit(0);
      }
    })().catch((err: unknown) => {
      console.error(`gateway client failed: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    });
  });
  send({ type: 'ready', index: plan.index });
}

main().catch((err: unknown) => {
  console.error(`gateway client failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
