import type { RunFigures } from './analyze';
import type { SeatInvariants } from './invariants';
import type { PgbenchResult } from './pgbench';

export interface SystemRun {
  system: 'ours' | 'naive' | 'stub';
  figures: RunFigures;
  /** CPU seconds used from "go" until drained, by process (clients summed). */
  cpuSeconds: Record<string, number>;
  invariants: SeatInvariants;
  /** Invariant violations plus requests without exactly one final state. */
  violations: number;
  seatsLeftWhileRejected: number;
  drained: boolean;
  notes: string[];
}

export interface Report {
  scenario: Record<string, unknown>;
  startedAt: string;
  machine: { cpus: number; node: string; platform: string };
  settings: Record<string, unknown>;
  /** The reference: the higher-tps of the pgbench runs. */
  pgbench?: PgbenchResult;
  /** Every pgbench run (before and after the systems). */
  pgbenchRuns: PgbenchResult[];
  ours?: SystemRun;
  naive?: SystemRun;
  /** Calibration run against a server that answers at once (only with --systems stub). */
  stub?: SystemRun;
  ratios: { oursToPgbench?: number; oursToNaive?: number; naiveToPgbench?: number };
  targets: { name: string; required: string; measured: string; pass: boolean }[];
  violations: number;
  notes: string[];
}

const fmt = (x: number | undefined, digits = 0) =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The report as a plain-text table for the terminal. */
export function renderTable(r: Report): string {
  const cols = [r.ours, r.naive, r.stub].filter((x): x is SystemRun => x !== undefined);
  const head = ['', ...cols.map((c) => ({ ours: 'ours', naive: 'naive baseline', stub: 'stub (ceiling)' })[c.system])];
  const row = (label: string, f: (s: SystemRun) => string) => [label, ...cols.map(f)];
  const rows: string[][] = [
    head,
    row('requests sent', (s) => fmt(s.figures.sent)),
    row('requests answered / s', (s) => fmt(s.figures.requestsPerSecond)),
    row('accepted (PENDING) / s', (s) => fmt(s.figures.acceptedPerSecond)),
    row('decisions / s', (s) => fmt(s.figures.decisionsPerSecond)),
    row('steady decisions / s (middle 80% of decisions)', (s) => fmt(s.figures.steadyDecisionsPerSecond)),
    row('decided at the door / by workers', (s) => `${fmt(s.figures.decisions - s.figures.queuedDecisions)} / ${fmt(s.figures.queuedDecisions)}`),
    row('decision latency p50 ms', (s) => fmt(s.figures.decisionLatency.p50, 1)),
    row('decision latency p95 ms', (s) => fmt(s.figures.decisionLatency.p95, 1)),
    row('decision latency p99 ms', (s) => fmt(s.figures.decisionLatency.p99, 1)),
    row('answer latency p50 / p99 ms', (s) => `${fmt(s.figures.answerLatency.p50, 1)} / ${fmt(s.figures.answerLatency.p99, 1)}`),
    row('load s (first send to last answer)', (s) => fmt(s.figures.loadSeconds, 2)),
    row('time to drain s (last answer to last decision)', (s) => `${fmt(s.figures.drainSeconds, 2)}${s.drained ? '' : ' (NOT drained)'}`),
    row('oversold seats', (s) => fmt(s.invariants.oversoldSeats)),
    row('duplicate enrollments', (s) => fmt(s.invariants.duplicateEnrollments)),
    row('other seat invariant violations', (s) => fmt(s.invariants.overfullWaitlists + s.invariants.countMismatches + s.invariants.duplicateWaitlistSeq + s.invariants.overCreditLimit)),
    row('requests without exactly one final state', (s) => fmt(s.figures.accounting.total)),
    row('violations', (s) => fmt(s.violations)),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r2) => r2[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ');
  const out = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('   '), ...rows.slice(1).map(line)];

  const lines: string[] = [''];
  lines.push(`rush benchmark, scenario ${String(r.scenario.name)}: ${fmt(r.scenario.students as number)} students, ${fmt(r.scenario.sections as number)} sections, ${fmt(r.scenario.requests as number)} requests`);
  lines.push(`clients: ${String(r.settings.clientProcesses)} processes x ${String(r.settings.inFlightPerProcess)} calls in flight, ${String(r.settings.channelsPerProcess)} ${String(r.settings.transport)} connections each; ${r.machine.cpus} CPUs, node ${r.machine.node}`);
  lines.push('');
  lines.push(...out);
  lines.push('');
  if (r.pgbench) {
    const which = r.pgbenchRuns.length === 2 ? `, the higher of ${fmt(r.pgbenchRuns[0].tps)} before and ${fmt(r.pgbenchRuns[1].tps)} after the systems` : '';
    lines.push(`pgbench hot-row tps: ${fmt(r.pgbench.tps)}${which} (${r.pgbench.clients} clients, ${r.pgbench.threads} threads, ${r.pgbench.seconds} s each)`);
  }
  if (r.ratios.oursToPgbench !== undefined) lines.push(`ours decisions/s / pgbench hot-row tps: ${fmt(r.ratios.oursToPgbench, 2)}x`);
  if (r.ratios.oursToNaive !== undefined) lines.push(`ours decisions/s / naive decisions/s:   ${fmt(r.ratios.oursToNaive, 2)}x`);
  if (r.ratios.naiveToPgbench !== undefined) lines.push(`naive decisions/s / pgbench hot-row tps: ${fmt(r.ratios.naiveToPgbench, 2)}x`);
  for (const s of cols) {
    const o = Object.entries(s.figures.outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ');
    lines.push(`${s.system} outcomes: ${o}${s.figures.retriedRequests ? `; ${fmt(s.figures.retriedRequests)} requests retried` : ''}${s.figures.unsent ? `; ${fmt(s.figures.unsent)} not sent (duration cap)` : ''}`);
    const a = s.figures.accounting;
    if (a.total > 0) lines.push(`${s.system} accounting: ${JSON.stringify(a)}`);
    if (s.invariants.total > 0) lines.push(`${s.system} invariants: ${JSON.stringify(s.invariants)}`);
    if (s.seatsLeftWhileRejected > 0) lines.push(`${s.system}: ${fmt(s.seatsLeftWhileRejected)} seats left empty in sections that answered SECTION_FULL (not an invariant)`);
    for (const n of s.notes) lines.push(`${s.system}: ${n}`);
  }
  for (const n of r.notes) lines.push(n);
  lines.push('');
  for (const t of r.targets) lines.push(`target ${t.pass ? 'MET   ' : 'MISSED'} ${t.name}: need ${t.required}, measured ${t.measured}`);
  lines.push(`violations: ${r.violations}`);
  return lines.join('\n');
}

interface Line {
  name: string;
  color: string;
  dash?: string;
  points: [number, number][];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  const n = raw / mag;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * mag;
}

/** An inline SVG line chart with its legend below; `log` uses a logarithmic y axis. */
function chart(title: string, yLabel: string, lines: Line[], opts: { log?: boolean; xMax?: number } = {}): string {
  const W = 900;
  const L = 70;
  const R = 20;
  const T = 30;
  const plotH = 250;
  const legendRows = Math.ceil(lines.length / 3);
  const H = T + plotH + 44 + legendRows * 18;
  const bottom = T + plotH;
  const all = lines.flatMap((l) => l.points);
  const xMax = opts.xMax ?? Math.max(1, ...all.map((p) => p[0]));
  const yVals = all.map((p) => p[1]).filter((v) => Number.isFinite(v) && (!opts.log || v > 0));
  const yMaxRaw = Math.max(1, ...yVals);
  const yMinLog = opts.log ? Math.max(0.1, Math.pow(10, Math.floor(Math.log10(Math.min(...yVals, yMaxRaw))))) : 0;
  const yMax = opts.log ? Math.pow(10, Math.ceil(Math.log10(yMaxRaw))) : niceStep(yMaxRaw, 5) * Math.ceil(yMaxRaw / niceStep(yMaxRaw, 5));
  const x = (v: number) => L + (v / xMax) * (W - L - R);
  const y = (v: number) =>
    opts.log ? T + (1 - (Math.log10(Math.max(v, yMinLog)) - Math.log10(yMinLog)) / (Math.log10(yMax) - Math.log10(yMinLog) || 1)) * plotH : T + (1 - v / yMax) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  const yTicks: number[] = [];
  if (opts.log) for (let v = yMinLog; v <= yMax * 1.0001; v *= 10) yTicks.push(v);
  else for (let v = 0, step = niceStep(yMax, 5); v <= yMax * 1.0001; v += step) yTicks.push(v);
  for (const v of yTicks) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v, v < 1 ? 1 : 0)}</text>`);
  }
  const xStep = niceStep(xMax, 10);
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    parts.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/>`);
    parts.push(`<text x="${x(v)}" y="${bottom + 17}" text-anchor="middle">${fmt(v, xStep < 1 ? 1 : 0)}</text>`);
  }
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${bottom}" y2="${bottom}" stroke="#333"/><line x1="${L}" x2="${L}" y1="${T}" y2="${bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${bottom + 34}" text-anchor="middle">seconds since the first request</text>`);
  parts.push(`<text transform="translate(16 ${T + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  lines.forEach((l, i) => {
    const pts = l.points.filter((p) => Number.isFinite(p[1]) && (!opts.log || p[1] > 0));
    const stroke = `stroke="${l.color}" stroke-width="2"${l.dash ? ` stroke-dasharray="${l.dash}"` : ''}`;
    if (pts.length > 0) {
      const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" ${stroke}/>`);
    }
    const lx = L + (i % 3) * 270;
    const ly = bottom + 52 + Math.floor(i / 3) * 18;
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" ${stroke}/>`);
    parts.push(`<text x="${lx + 30}" y="${ly + 4}">${esc(l.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

const COLORS = { ours: '#1f77b4', naive: '#ff7f0e', stub: '#2ca02c', pgbench: '#777777' };

const TITLES = { ours: 'ours', naive: 'naive baseline', stub: 'stub (load generator ceiling)' };

/** A self-contained HTML page (no scripts, no CDN) with the table and, per system, throughput and latency over time. */
export function renderHtml(r: Report, table: string): string {
  const runs = [r.ours, r.naive, r.stub].filter((x): x is SystemRun => x !== undefined);
  const sections = runs.map((s) => {
    const bucket = s.figures.bucketSeconds;
    const xMax = Math.max(1, s.figures.series.length * bucket);
    const throughput: Line[] = [
      { name: 'decisions/s', color: COLORS[s.system], points: s.figures.series.map((b) => [b.t + bucket / 2, b.decisions / bucket]) },
      { name: 'answers/s', color: COLORS[s.system], dash: '5 4', points: s.figures.series.map((b) => [b.t + bucket / 2, b.answers / bucket]) },
    ];
    if (s.figures.queuedDecisions > 0) {
      throughput.push({ name: 'of which decided by workers/s', color: '#9467bd', points: s.figures.series.map((b) => [b.t + bucket / 2, b.queuedDecisions / bucket]) });
    }
    if (r.pgbench) throughput.push({ name: `pgbench hot-row tps (${fmt(r.pgbench.tps)})`, color: COLORS.pgbench, dash: '2 3', points: [[0, r.pgbench.tps], [xMax, r.pgbench.tps]] });
    const latency: Line[] = [
      { name: 'p50', color: COLORS[s.system], points: s.figures.series.filter((b) => b.p50 !== null).map((b) => [b.t + bucket / 2, b.p50 as number]) },
      { name: 'p99', color: COLORS[s.system], dash: '5 4', points: s.figures.series.filter((b) => b.p99 !== null).map((b) => [b.t + bucket / 2, b.p99 as number]) },
    ];
    const f = s.figures;
    return `<h2>${esc(TITLES[s.system])}</h2>
<p>${fmt(f.decisionsPerSecond)} decisions/s over ${fmt(f.totalSeconds, 1)} s; decision latency p50 ${fmt(f.decisionLatency.p50, 1)} ms, p95 ${fmt(f.decisionLatency.p95, 1)} ms, p99 ${fmt(f.decisionLatency.p99, 1)} ms; ${fmt(s.violations)} violations.</p>
${chart(`${TITLES[s.system]}: throughput`, 'per second', throughput, { xMax })}
${chart(`${TITLES[s.system]}: Register to final decision, by the second of the decision (log scale)`, 'ms', latency, { log: true, xMax })}`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>coursereg rush benchmark: ${esc(String(r.scenario.name))}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:940px}pre{background:#f6f6f6;padding:12px;font-size:12px;overflow-x:auto}</style></head>
<body>
<h1>Rush benchmark: scenario ${esc(String(r.scenario.name))}</h1>
<p>${esc(r.startedAt)}. One point per second since the system's first request (per half second for runs shorter than 30 s). A decision is counted when it was made: a final answer at the door when it was answered, a worker's decision at its decided_at.</p>
<pre>${esc(table)}</pre>
${sections.join('\n')}
</body></html>
`;
}
