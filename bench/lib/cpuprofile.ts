import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './config';

/**
 * Summarizes V8 .cpuprofile files (several windows of the same process are added
 * up): where the samples fell by function (self time), by function including what
 * it called (inclusive time), and by area (the gateway's code, shared code, each
 * npm package, Node's internals, GC, idle).
 */

/** A V8 .cpuprofile, as the inspector's Profiler.stop returns it and as it is saved. */
export interface CallFrame {
  functionName: string;
  scriptId?: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
  positionTicks?: unknown;
}
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  /** "functionName file:line" (line 1-based, TypeScript source where mapped). */
  where: string;
  ms: number;
  /** Share of the busy (non-idle) samples. */
  share: number;
  /**
   * For native and Node-internal functions: the nearest callers in a file of ours or of a
   * package, with their share of this entry's time (e.g. a socket write and the library
   * that asked for it).
   */
  via?: { where: string; share: number }[];
}

export interface ProfileSummary {
  files: string[];
  /** Wall time covered by the profiles, ms. */
  wallMs: number;
  /** Sampled time that was not idle, ms. */
  busyMs: number;
  idleMs: number;
  selfTop: ProfileEntry[];
  inclusiveTop: ProfileEntry[];
  byArea: ProfileEntry[];
  /**
   * Every busy sample charged to the nearest frame of our own code on its stack (services/,
   * bench/), or to "(no frame of ours on the stack)" (GC, I/O callbacks of libraries...):
   * adds up to 100%, and says which of our functions causes the time, wherever it is spent.
   */
  byOwnFrame: ProfileEntry[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function pathOf(url: string): string {
  if (!url) return '';
  if (url.startsWith('file://')) {
    try {
      return relative(ROOT, fileURLToPath(url));
    } catch {
      return url;
    }
  }
  if (url.startsWith('/')) return relative(ROOT, url);
  return url;
}

function label(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  if (SPECIAL.has(name) || !f.url) return name;
  return `${name} ${pathOf(f.url)}:${f.lineNumber + 1}`;
}

/** The area a frame belongs to: a package, a directory of ours, Node's internals or a VM state. */
function area(f: CallFrame): string {
  if (SPECIAL.has(f.functionName) && !f.url) return f.functionName;
  const p = pathOf(f.url);
  if (!p) return '(native / V8 builtins)';
  if (p.startsWith('node:')) {
    const m = /^node:(internal\/)?([^/]+)/.exec(p);
    return `node:${m?.[1] ?? ''}${m?.[2] ?? p}`;
  }
  const nm = p.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = p.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const parts = p.split('/');
  if (parts[0] === 'services') return parts.slice(0, Math.min(parts.length - 1, 4)).join('/');
  return parts.slice(0, Math.min(parts.length - 1, 2)).join('/') || p;
}

/** A frame in our repository's code (not a package, not Node's internals). */
function isOurs(f: CallFrame): boolean {
  const p = pathOf(f.url);
  return (p.startsWith('services/') || p.startsWith('bench/')) && !p.includes('node_modules/');
}

/** A frame in a file of ours or of an npm package (JavaScript we could change or configure). */
function isLibraryOrOurs(f: CallFrame): boolean {
  const p = pathOf(f.url);
  return p !== '' && !p.startsWith('node:') && !SPECIAL.has(f.functionName);
}

export function summarizeProfiles(files: string[], top = 25): ProfileSummary {
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const areas = new Map<string, number>();
  const own = new Map<string, number>();
  const via = new Map<string, Map<string, number>>();
  let wallUs = 0;
  let idleUs = 0;
  let busyUs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    wallUs += profile.endTime - profile.startTime;
    const byId = new Map<number, ProfileNode>();
    const parent = new Map<number, number>();
    for (const n of profile.nodes) {
      byId.set(n.id, n);
      for (const c of n.children ?? []) parent.set(c, n.id);
    }
    // Each sample's time is the delta to the next sample (the last one gets the mean).
    const deltas = profile.timeDeltas;
    const mean = deltas.length ? (profile.endTime - profile.startTime) / deltas.length : 0;
    for (let i = 0; i < profile.samples.length; i++) {
      const dt = i + 1 < deltas.length ? Math.max(0, deltas[i + 1]) : mean;
      const leaf = byId.get(profile.samples[i]);
      if (!leaf) continue;
      const lf = leaf.callFrame;
      if (lf.functionName === '(idle)') {
        idleUs += dt;
        continue;
      }
      busyUs += dt;
      const l = label(lf);
      self.set(l, (self.get(l) ?? 0) + dt);
      const a = area(lf);
      areas.set(a, (areas.get(a) ?? 0) + dt);
      const seen = new Set<string>();
      let ownFrame: string | undefined;
      let caller: string | undefined;
      const leafIsLibrary = isLibraryOrOurs(lf);
      for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
        const f = byId.get(id)!.callFrame;
        if (f.functionName === '(root)') break;
        const key = label(f);
        if (!ownFrame && isOurs(f)) ownFrame = key;
        if (!leafIsLibrary && !caller && id !== leaf.id && isLibraryOrOurs(f)) caller = key;
        if (seen.has(key)) continue;
        seen.add(key);
        incl.set(key, (incl.get(key) ?? 0) + dt);
      }
      const o = ownFrame ?? '(no frame of ours on the stack)';
      own.set(o, (own.get(o) ?? 0) + dt);
      if (!leafIsLibrary) {
        const m = via.get(l) ?? new Map<string, number>();
        const c = caller ?? '(no JavaScript caller)';
        m.set(c, (m.get(c) ?? 0) + dt);
        via.set(l, m);
      }
    }
  }
  const list = (m: Map<string, number>, n: number): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([where, us]) => ({ where, ms: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }));
  const selfTop = list(self, top);
  for (const e of selfTop) {
    const m = via.get(e.where);
    if (!m || SPECIAL.has(e.where)) continue;
    const total = [...m.values()].reduce((a, b) => a + b, 0);
    e.via = [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([where, us]) => ({ where, share: total > 0 ? us / total : 0 }));
  }
  return {
    files,
    wallMs: wallUs / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    selfTop,
    // Inclusive entries for our own code only: the pipeline stages.
    inclusiveTop: list(new Map([...incl.entries()].filter(([k]) => / (services|bench)\//.test(k))), top),
    byArea: list(areas, top),
    byOwnFrame: list(own, top),
  };
}
