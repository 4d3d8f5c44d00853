import { sql, type Kysely } from 'kysely';
import { RegistrationState } from '../../gen/coursereg/registration/v1/registration';
import type { ClientResult } from '../rush-client';
import type { PlannedRequest } from './scenario';

/** One stored registration row, as the benchmark reads it after a run. */
export interface StoredRow {
  id: string;
  student_id: string;
  request_id: string;
  section_id: string;
  state: string;
  reason_code: string;
  /** Epoch ms, null while PENDING. */
  decided_ms: number | null;
}

export async function readRows(db: Kysely<any>): Promise<StoredRow[]> {
  const r = await sql<StoredRow>`
    SELECT id::text, student_id, request_id, section_id::text, state, reason_code,
           (extract(epoch FROM decided_at) * 1000)::float8 AS decided_ms
      FROM registration.registrations`.execute(db);
  return r.rows;
}

export async function countPending(db: Kysely<any>): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM registration.registrations WHERE state = 'PENDING'`.execute(db);
  return r.rows[0].n;
}

/** Status codes that are an answer still to be retried, not a decision. */
const TRANSIENT_CODES = new Set([1, 4, 8, 14]); // CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE
/** An error answer that is itself the request's final decision (e.g. SECTION_FULL at the door). */
const isFinalError = (code: number, reason: string) => code > 0 && (!TRANSIENT_CODES.has(code) || reason === 'SECTION_FULL');
const FINAL_STATES = new Set(['ENROLLED', 'WAITLISTED', 'REJECTED', 'FAILED', 'DROPPED']);
const STATE_NAMES: Record<number, string> = {
  [RegistrationState.REGISTRATION_STATE_PENDING]: 'PENDING',
  [RegistrationState.REGISTRATION_STATE_ENROLLED]: 'ENROLLED',
  [RegistrationState.REGISTRATION_STATE_WAITLISTED]: 'WAITLISTED',
  [RegistrationState.REGISTRATION_STATE_REJECTED]: 'REJECTED',
  [RegistrationState.REGISTRATION_STATE_DROPPED]: 'DROPPED',
  [RegistrationState.REGISTRATION_STATE_FAILED]: 'FAILED',
};

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface SecondBucket {
  /** Start of the bucket, seconds since the first send. */
  t: number;
  /** Answers and decisions in the bucket (divide by bucketSeconds for a rate). */
  answers: number;
  decisions: number;
  /** Of the decisions, those made after the answer (queued requests decided by a worker). */
  queuedDecisions: number;
  /** Decision latency (ms) of the decisions made in this second. */
  p50: number | null;
  p99: number | null;
}

/** Requests that do not end in exactly one final state, by kind. */
export interface AccountingViolations {
  okAnswerWithoutRow: number;
  answerIdDiffersFromRow: number;
  answeredStateDiffersFromRow: number;
  stillPending: number;
  doorRejectWithStoredRow: number;
  unavailableButStored: number;
  noFinalAnswer: number;
  rowsWithoutRequest: number;
  total: number;
}

export interface RunFigures {
  planned: number;
  sent: number;
  unsent: number;
  answered: number;
  accepted: number;
  decisions: number;
  /** Decisions made after the answer (by a worker), the rest were final at the door. */
  queuedDecisions: number;
  /** Seconds from the first send to the last answer. */
  loadSeconds: number;
  /** Seconds from the first send to the last decision. */
  totalSeconds: number;
  /** Seconds from the last answer to the last decision (0 when everything was decided at the door). */
  drainSeconds: number;
  requestsPerSecond: number;
  acceptedPerSecond: number;
  decisionsPerSecond: number;
  /**
   * Decisions per second between the 10th and the 90th percentile of decision
   * times: the steady rate without start-up and tail. Informational; targets use
   * decisionsPerSecond.
   */
  steadyDecisionsPerSecond: number;
  /** Register to final decision, ms. */
  decisionLatency: Percentiles;
  /** Register to the RPC's answer, ms. */
  answerLatency: Percentiles;
  outcomes: Record<string, number>;
  retriedRequests: number;
  accounting: AccountingViolations;
  /** Width of the series' buckets: 1 s, or 0.5 s for runs shorter than 30 s. */
  bucketSeconds: number;
  series: SecondBucket[];
}

function percentiles(xs: number[]): Percentiles {
  if (xs.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0 };
  const s = Float64Array.from(xs).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] };
}

const key = (studentId: string, requestId: string) => `${studentId}\u0000${requestId}`;

/**
 * Joins what the clients saw with what PostgreSQL holds and computes the
 * figures. A request's decision is its final door answer (an error such as
 * SECTION_FULL, or a registration already in a final state) at the time the
 * answer arrived, or else its row's decided_at. Every sent request must end in
 * exactly one final state: one final door answer and no row, or one final row.
 */
export function analyze(plan: PlannedRequest[], res: ClientResult, rows: StoredRow[]): RunFigures {
  const byKey = new Map<string, StoredRow>();
  for (const r of rows) byKey.set(key(r.student_id, r.request_id), r);
  const matched = new Set<string>();

  const acc: AccountingViolations = {
    okAnswerWithoutRow: 0,
    answerIdDiffersFromRow: 0,
    answeredStateDiffersFromRow: 0,
    stillPending: 0,
    doorRejectWithStoredRow: 0,
    unavailableButStored: 0,
    noFinalAnswer: 0,
    rowsWithoutRequest: 0,
    total: 0,
  };
  const outcomes: Record<string, number> = {};
  const bump = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
  const decisionAt: number[] = [];
  const decisionQueued: boolean[] = [];
  const decisionLat: number[] = [];
  const answerLat: number[] = [];
  let firstSend = Infinity;
  let lastAnswer = 0;
  let sent = 0;
  let answered = 0;
  let accepted = 0;
  let retried = 0;

  for (let i = 0; i < plan.length; i++) {
    const send = res.send[i];
    if (!send) continue;
    sent++;
    if (res.attempts[i] > 1) retried++;
    firstSend = Math.min(firstSend, send);
    const k = key(plan[i].studentId, plan[i].requestId);
    const row = byKey.get(k);
    if (row) matched.add(k);
    const code = res.code[i];
    const answeredAt = res.resp[i];
    if (answeredAt) {
      lastAnswer = Math.max(lastAnswer, answeredAt);
      if (code === 0 || isFinalError(code, res.reason[i])) {
        answered++;
        answerLat.push(answeredAt - send);
      }
    }

    let decidedAt: number | undefined;
    let queued = false;
    if (code === 0) {
      const answeredState = STATE_NAMES[res.state[i]] ?? 'UNSPECIFIED';
      if (answeredState === 'PENDING') accepted++;
      if (!row) {
        acc.okAnswerWithoutRow++;
        continue;
      }
      if (res.regId[i] && res.regId[i] !== row.id) acc.answerIdDiffersFromRow++;
      if (!FINAL_STATES.has(row.state)) {
        acc.stillPending++;
        continue;
      }
      if (answeredState !== 'PENDING' && answeredState !== row.state) acc.answeredStateDiffersFromRow++;
      queued = answeredState === 'PENDING';
      decidedAt = queued ? (row.decided_ms ?? undefined) : answeredAt;
      bump(row.state === 'REJECTED' || row.state === 'FAILED' ? `${row.state} ${row.reason_code || '-'}` : row.state);
    } else if (isFinalError(code, res.reason[i])) {
      if (row) {
        acc.doorRejectWithStoredRow++;
        continue;
      }
      decidedAt = answeredAt;
      bump(`door ${res.reason[i] || `code ${code}`}`);
    } else {
      // Transient to the end (or never answered): a row may still exist if the
      // request was kept before the client gave up, except after UNAVAILABLE,
      // which promises that nothing was kept.
      if (row && code === 14) {
        acc.unavailableButStored++;
        continue;
      }
      if (row && FINAL_STATES.has(row.state)) {
        queued = true;
        decidedAt = row.decided_ms ?? undefined;
        bump(row.state === 'REJECTED' || row.state === 'FAILED' ? `${row.state} ${row.reason_code || '-'}` : row.state);
      } else if (row) {
        acc.stillPending++;
        continue;
      } else {
        acc.noFinalAnswer++;
        bump(`no answer (${code === -1 ? 'none' : `code ${code}`})`);
        continue;
      }
    }
    if (decidedAt !== undefined) {
      decisionAt.push(decidedAt);
      decisionQueued.push(queued);
      decisionLat.push(Math.max(0, decidedAt - send));
    }
  }
  for (const r of rows) if (!matched.has(key(r.student_id, r.request_id))) acc.rowsWithoutRequest++;
  acc.total =
    acc.okAnswerWithoutRow + acc.answerIdDiffersFromRow + acc.answeredStateDiffersFromRow + acc.stillPending + acc.doorRejectWithStoredRow + acc.unavailableButStored + acc.noFinalAnswer + acc.rowsWithoutRequest;

  const lastDecision = decisionAt.reduce((m, x) => Math.max(m, x), 0);
  const sortedAt = Float64Array.from(decisionAt).sort();
  const p10 = sortedAt[Math.floor(sortedAt.length * 0.1)] ?? 0;
  const p90 = sortedAt[Math.floor(sortedAt.length * 0.9)] ?? 0;
  const steady = p90 > p10 ? (Math.floor(sortedAt.length * 0.9) - Math.floor(sortedAt.length * 0.1)) / ((p90 - p10) / 1000) : 0;
  if (!Number.isFinite(firstSend)) firstSend = 0;
  const loadSeconds = Math.max(1e-3, (lastAnswer - firstSend) / 1000);
  const totalSeconds = Math.max(1e-3, (Math.max(lastDecision, lastAnswer) - firstSend) / 1000);

  const bucketSeconds = totalSeconds < 30 ? 0.5 : 1;
  const buckets = Math.max(1, Math.ceil(totalSeconds / bucketSeconds));
  const series: SecondBucket[] = Array.from({ length: buckets }, (_, b) => ({ t: b * bucketSeconds, answers: 0, decisions: 0, queuedDecisions: 0, p50: null, p99: null }));
  const latByBucket: number[][] = Array.from({ length: buckets }, () => []);
  for (let i = 0; i < plan.length; i++) {
    if (res.resp[i] && (res.code[i] === 0 || isFinalError(res.code[i], res.reason[i]))) {
      const b = Math.min(buckets - 1, Math.floor((res.resp[i] - firstSend) / 1000 / bucketSeconds));
      if (b >= 0) series[b].answers++;
    }
  }
  decisionAt.forEach((at, j) => {
    const b = Math.min(buckets - 1, Math.max(0, Math.floor((at - firstSend) / 1000 / bucketSeconds)));
    series[b].decisions++;
    if (decisionQueued[j]) series[b].queuedDecisions++;
    latByBucket[b].push(decisionLat[j]);
  });
  latByBucket.forEach((xs, b) => {
    if (xs.length > 0) {
      const p = percentiles(xs);
      series[b].p50 = p.p50;
      series[b].p99 = p.p99;
    }
  });

  return {
    planned: plan.length,
    sent,
    unsent: plan.length - sent,
    answered,
    accepted,
    decisions: decisionAt.length,
    queuedDecisions: decisionQueued.filter(Boolean).length,
    loadSeconds,
    totalSeconds,
    drainSeconds: Math.max(0, (lastDecision - lastAnswer) / 1000),
    requestsPerSecond: answered / loadSeconds,
    acceptedPerSecond: accepted / loadSeconds,
    decisionsPerSecond: decisionAt.length / totalSeconds,
    steadyDecisionsPerSecond: steady,
    decisionLatency: percentiles(decisionLat),
    answerLatency: percentiles(answerLat),
    outcomes,
    retriedRequests: retried,
    accounting: acc,
    bucketSeconds,
    series,
  };
}
