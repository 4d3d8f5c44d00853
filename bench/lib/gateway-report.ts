import type { ProfileSummary } from './cpuprofile';

/** Which path a phase drives; see bench/gateway-client.ts. */
export type GatewayTarget = 'direct' | 'web-h1' | 'web-h2' | 'bare-h1' | 'bare-h2' | 'cand-h1' | 'cand-h2';

export const TARGET_TITLES: Record<GatewayTarget, string> = {
  direct: 'direct gRPC (HTTP/2 to the course service)',
  'web-h1': 'gateway gRPC-web over HTTP/1.1 keep-alive',
  'web-h2': 'gateway gRPC-web over HTTP/2',
  'bare-h1': 'reference: bare Node gRPC-web proxy over HTTP/1.1 keep-alive, no filters (bench/lib/bare-proxy.ts)',
  'bare-h2': 'reference: bare Node gRPC-web proxy over HTTP/2, no filters (bench/lib/bare-proxy.ts)',
  'cand-h1': 'candidate gateway (--candidate-entry) gRPC-web over HTTP/1.1 keep-alive',
  'cand-h2': 'candidate gateway (--candidate-entry) gRPC-web over HTTP/2',
};

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

/** CPU seconds used during a measured window, by process. */
export interface CpuSplit {
  gateway: number;
  course: number;
  /** All client processes together. */
  clients: number;
  redis: number;
  /** Every PostgreSQL process on the machine (the course service answers from its Redis cache, so this should be near 0). */
  postgres: number;
  orchestrator: number;
  /** The whole machine's busy CPU seconds (all cores). */
  machine: number;
  /** machine minus everything above: other work on the machine. */
  other: number;
}

export interface PhaseFigures {
  round: number;
  target: GatewayTarget;
  windowSeconds: number;
  /** Answers with grpc-status OK and a full page, in the window. */
  ok: number;
  /** Answers of any status in the window. */
  answers: number;
  /** OK answers per second: the throughput figure. */
  callsPerSecond: number;
  latencyMs: Latency;
  /** Non-OK answers in the window. */
  errors: number;
  codes: Record<string, number>;
  errorDetails: Record<string, number>;
  /** Non-OK answers during warm-up and drain (not in the figures, reported all the same). */
  errorsOutsideWindow: Record<string, number>;
  cpu: CpuSplit;
  /** Where "other" CPU went, by command name (processes still running when the window closed). */
  otherByCommand: Record<string, number>;
  /** CPU milliseconds per OK call. */
  cpuMsPerCall: { gateway: number; course: number; clients: number; redis: number };
  /** The gateway's own request counter during the phase (protocol code -> calls), and its rate-limit counter. */
  gatewayCounted: Record<string, number>;
  gatewayLimited: Record<string, number>;
  /** x-ratelimit-limit values on answers in the window (20 = the per-student limit was the tightest one checked). */
  rateLimitHeader: Record<string, number>;
  tokensUsed: number;
  /** Mean calls per second per token in the window, the busiest client process's (the per-student limit is 20/s). */
  callsPerSecondPerToken: number;
  differentBodies: number;
  h1Sockets?: number;
  connectMs: number;
}

export interface TargetSummary {
  target: GatewayTarget;
  phases: number;
  windowSeconds: number;
  ok: number;
  callsPerSecond: number;
  latencyMs: Latency;
  errors: number;
  codes: Record<string, number>;
  cpu: CpuSplit;
  cpuMsPerCall: { gateway: number; course: number; clients: number; redis: number };
  /** This target's calls/s over direct's, both summed over all rounds. */
  ratioToDirect?: number;
  /** The same ratio within each round (direct of the same round). */
  ratioByRound?: number[];
}

export interface TargetCheck {
  name: string;
  required: string;
  measured: string;
  pass: boolean;
}

export interface GatewayReport {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; model: string; node: string; platform: string; loadAverageBefore: number[]; loadAverageAfter: number[] };
  settings: Record<string, unknown>;
  conditions: string[];
  phases: PhaseFigures[];
  summary: TargetSummary[];
  targets: TargetCheck[];
  errors: { total: number; byCode: Record<string, number> };
  profile?: ProfileSummary & { note: string };
  notes: string[];
}

export const fmt = (x: number | undefined, digits = 0): string =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(rows: string[][], align: ('l' | 'r')[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (align[c] === 'l' ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function markdown(rows: string[][], align: ('l' | 'r')[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${rows[0].map(esc).join(' | ')} |`,
    `| ${align.map((a) => (a === 'l' ? '---' : '---:')).join(' | ')} |`,
    ...rows.slice(1).map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

const codesText = (codes: Record<string, number>) =>
  Object.entries(codes)
    .filter(([k]) => k !== 'OK')
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ') || '0';

function phaseRows(r: GatewayReport): { rows: string[][]; align: ('l' | 'r')[] } {
  const rows = [['round', 'path', 'calls/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'CPU s gateway', 'course', 'clients', 'redis', 'other', 'CPU ms/call gw', 'course', 'clients']];
  for (const p of r.phases) {
    rows.push([
      String(p.round),
      p.target,
      fmt(p.callsPerSecond),
      fmt(p.latencyMs.p50, 1),
      fmt(p.latencyMs.p95, 1),
      fmt(p.latencyMs.p99, 1),
      codesText(p.codes),
      fmt(p.cpu.gateway, 2),
      fmt(p.cpu.course, 2),
      fmt(p.cpu.clients, 2),
      fmt(p.cpu.redis, 2),
      fmt(p.cpu.other, 2),
      p.target === 'direct' ? '-' : fmt(p.cpuMsPerCall.gateway, 3),
      fmt(p.cpuMsPerCall.course, 3),
      fmt(p.cpuMsPerCall.clients, 3),
    ]);
  }
  return { rows, align: ['r', 'l', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'] };
}

function summaryRows(r: GatewayReport): { rows: string[][]; align: ('l' | 'r')[] } {
  const rows = [['path', 'calls/s', 'vs direct', 'by round', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'CPU ms/call gw', 'course', 'clients', 'redis', 'machine', 'busy cores']];
  for (const s of r.summary) {
    rows.push([
      s.target,
      fmt(s.callsPerSecond),
      s.ratioToDirect === undefined ? '1.00x' : `${fmt(s.ratioToDirect, 2)}x`,
      s.ratioByRound ? s.ratioByRound.map((x) => `${fmt(x, 2)}x`).join(' ') : '-',
      fmt(s.latencyMs.p50, 1),
      fmt(s.latencyMs.p95, 1),
      fmt(s.latencyMs.p99, 1),
      codesText(s.codes),
      s.target === 'direct' ? '-' : fmt(s.cpuMsPerCall.gateway, 3),
      fmt(s.cpuMsPerCall.course, 3),
      fmt(s.cpuMsPerCall.clients, 3),
      fmt(s.cpuMsPerCall.redis, 3),
      fmt((s.cpu.machine * 1000) / s.ok, 3),
      fmt(s.cpu.machine / s.windowSeconds, 2),
    ]);
  }
  return { rows, align: ['l', 'r', 'r', 'l', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r'] };
}

/** The report as text for the terminal. */
export function renderText(r: GatewayReport): string {
  const out: string[] = [''];
  out.push(`gateway benchmark: CourseService/ListCourses (page_size ${String(r.settings.pageSize)}), ${String(r.settings.rounds)} round(s) of ${(r.settings.order as string[]).join(', ')}, ${String(r.settings.seconds)} s each after ${String(r.settings.warmupSeconds)} s warm-up`);
  out.push(`machine: ${r.machine.cpus} CPUs (${r.machine.model}), node ${r.machine.node}, ${r.machine.platform}; load average before ${r.machine.loadAverageBefore.map((x) => x.toFixed(2)).join(' ')}`);
  out.push('');
  out.push('per phase (CPU s = CPU seconds used in the measured window; other = the rest of the machine):');
  const ph = phaseRows(r);
  out.push(table(ph.rows, ph.align));
  out.push('');
  out.push('per path, all rounds together:');
  const su = summaryRows(r);
  out.push(table(su.rows, su.align));
  out.push('');
  for (const t of r.targets) out.push(`target ${t.pass ? 'MET   ' : 'MISSED'} ${t.name}: need ${t.required}, measured ${t.measured}`);
  out.push(r.errors.total === 0 ? 'errors: none (every answer in every window was OK with a full page)' : `ERRORS: ${fmt(r.errors.total)} non-OK answers in the measured windows: ${codesText(r.errors.byCode)}; the figures of the phases with errors are not clean`);
  out.push('');
  out.push('conditions:');
  for (const c of r.conditions) out.push(`  - ${c}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  if (r.profile) {
    out.push('');
    out.push(`gateway CPU profile (${r.profile.note}): ${fmt(r.profile.busyMs / 1000, 1)} s busy of ${fmt(r.profile.wallMs / 1000, 1)} s profiled`);
    out.push('  by area:');
    for (const e of r.profile.byArea.slice(0, 15)) out.push(`    ${fmt(e.share * 100, 1).padStart(5)}%  ${e.where}`);
    out.push('  self time, top functions (native and Node-internal ones with their nearest callers in our code or a package):');
    for (const e of r.profile.selfTop.slice(0, 20)) {
      out.push(`    ${fmt(e.share * 100, 1).padStart(5)}%  ${e.where}`);
      for (const v of e.via ?? []) if (v.share >= 0.1) out.push(`              ${fmt(v.share * 100, 0).padStart(3)}% via ${v.where}`);
    }
    out.push('  all busy time charged to the nearest function of ours on the stack:');
    for (const e of r.profile.byOwnFrame.slice(0, 15)) out.push(`    ${fmt(e.share * 100, 1).padStart(5)}%  ${e.where}`);
    out.push('  inclusive time, our code (services/, bench/):');
    for (const e of r.profile.inclusiveTop.slice(0, 20)) out.push(`    ${fmt(e.share * 100, 1).padStart(5)}%  ${e.where}`);
  }
  return out.join('\n');
}

/** The same report as markdown. */
export function renderMarkdown(r: GatewayReport): string {
  const out: string[] = [];
  out.push(`# Gateway benchmark, ${r.startedAt}`);
  out.push('');
  out.push(`CourseService/ListCourses (page_size ${String(r.settings.pageSize)}); ${String(r.settings.rounds)} round(s) of ${(r.settings.order as string[]).join(', ')}, ${String(r.settings.seconds)} s each after ${String(r.settings.warmupSeconds)} s warm-up; ${String(r.settings.concurrency)} calls in flight.`);
  out.push(`Machine: ${r.machine.cpus} CPUs (${r.machine.model}), node ${r.machine.node}, ${r.machine.platform}.`);
  out.push('');
  out.push('## Per path');
  out.push('');
  const su = summaryRows(r);
  out.push(markdown(su.rows, su.align));
  out.push('');
  for (const t of r.targets) out.push(`- target **${t.pass ? 'MET' : 'MISSED'}**: ${t.name}: need ${t.required}, measured ${t.measured}`);
  out.push(`- errors in the measured windows: ${r.errors.total === 0 ? 'none' : `**${fmt(r.errors.total)}** (${codesText(r.errors.byCode)})`}`);
  out.push('');
  out.push('## Per phase');
  out.push('');
  const ph = phaseRows(r);
  out.push(markdown(ph.rows, ph.align));
  out.push('');
  out.push('## Conditions');
  out.push('');
  for (const c of r.conditions) out.push(`- ${c}`);
  for (const n of r.notes) out.push(`- note: ${n}`);
  if (r.profile) {
    out.push('');
    out.push(`## Gateway CPU profile (${r.profile.note})`);
    out.push('');
    const rows = (title: string, list: { where: string; share: number }[]) => markdown([[title, 'share of busy CPU'], ...list.map((e) => [`\`${e.where}\``, `${fmt(e.share * 100, 1)}%`])], ['l', 'r']);
    out.push(rows('area', r.profile.byArea.slice(0, 15)));
    out.push('');
    out.push(rows('function (self time)', r.profile.selfTop.slice(0, 20).map((e) => ({ ...e, where: e.via?.length ? `${e.where}\` via \`${e.via[0].where}` : e.where }))));
    out.push('');
    out.push(rows('nearest function of ours on the stack (all busy time)', r.profile.byOwnFrame.slice(0, 15)));
    out.push('');
    out.push(rows('function (inclusive, our code)', r.profile.inclusiveTop.slice(0, 20)));
  }
  out.push('');
  return out.join('\n');
}
