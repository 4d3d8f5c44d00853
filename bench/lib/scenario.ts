import { demoTerm, stableUuid, type DemoCourse, type DemoData, type DemoSection, type DemoStudent } from '../../scripts/seed/demo-data';

/**
 * Rush scenarios: deterministic catalog, students and request plan. The same
 * options give the same data and the same plan on every machine; only the term's
 * dates follow the calendar so that registration is open now.
 */
export interface ScenarioOptions {
  name: string;
  students: number;
  sections: number;
  requestsPerStudent: number;
  /** Share of all requests aimed at the hot section (section 0); the rest follow the popularity skew. */
  hotShare: number;
  /** Seats of the hot section (hot scenario) or of every section (campus). */
  capacity: number;
  waitlist: number;
  /** Zipf exponent of section popularity (0 = uniform). */
  skew: number;
  seed: number;
}

export const SCENARIOS: Record<string, ScenarioOptions> = {
  hot: { name: 'hot', students: 10_000, sections: 1, requestsPerStudent: 1, hotShare: 1, capacity: 100, waitlist: 200, skew: 0, seed: 20261124 },
  campus: { name: 'campus', students: 20_000, sections: 1_000, requestsPerStudent: 5, hotShare: 0, capacity: 60, waitlist: 15, skew: 0.9, seed: 20261125 },
};

/** One Register call of the plan. */
export interface PlannedRequest {
  studentId: string;
  sectionId: string;
  requestId: string;
}

export interface Scenario {
  options: ScenarioOptions;
  data: DemoData;
  /** The section that gets the most requests (the hot row for pgbench). */
  hotSectionId: string;
  /** Requests in sending order: every student's first pick, then every student's second, ... */
  requests: PlannedRequest[];
}

/** mulberry32, as in the demo data, so plans are identical everywhere. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEPARTMENTS = ['CS', 'MATH', 'PHYS', 'CHEM', 'BIOL', 'ECON', 'HIST', 'ENGL', 'PSYC', 'STAT'];
/** Weekly slots that never overlap one another: MWF 50 minutes at 8 starts, TuTh 75 minutes at 6. */
const SLOTS: { days: number; start: number; minutes: number }[] = [
  ...[480, 540, 600, 660, 720, 780, 840, 900].map((start) => ({ days: (1 << 1) | (1 << 3) | (1 << 5), start, minutes: 50 })),
  ...[480, 570, 660, 750, 840, 930].map((start) => ({ days: (1 << 2) | (1 << 4), start, minutes: 75 })),
];
const SECTIONS_PER_COURSE = 3;
/** A course every student has passed; some courses require it, so eligibility has work to do. */
const FOUNDATION = 'CORE 101';

/**
 * Builds the scenario. Each student picks `requestsPerStudent` sections of
 * different courses in different time slots, so picks never conflict in time and
 * never repeat a course; the hot section is picked with probability `hotShare`,
 * the others by a Zipf popularity over a shuffled order.
 */
export function buildScenario(options: ScenarioOptions, now = new Date()): Scenario {
  const { students: studentCount, sections: sectionCount, requestsPerStudent } = options;
  if (requestsPerStudent > SLOTS.length) throw new Error(`--requests-per-student must be at most ${SLOTS.length}`);
  const courseCount = Math.ceil(sectionCount / SECTIONS_PER_COURSE);
  if (requestsPerStudent > courseCount) throw new Error(`--requests-per-student ${requestsPerStudent} needs at least ${requestsPerStudent * SECTIONS_PER_COURSE - 2} sections`);
  const rnd = prng(options.seed);
  const term = { ...demoTerm(now), registration_opens_at: new Date(now.getTime() - 86400_000) };

  const courses: DemoCourse[] = [
    { code: FOUNDATION, title: 'Foundations', description: 'Required of every student.', credits: 3, department: 'CORE', prerequisite: null, prerequisiteCodes: [], level: 100 },
  ];
  for (let i = 0; i < courseCount; i++) {
    const dept = DEPARTMENTS[i % DEPARTMENTS.length];
    const code = `${dept} ${1000 + Math.floor(i / DEPARTMENTS.length)}`;
    const withPrereq = i % 5 === 0;
    courses.push({
      code,
      title: `Rush course ${i}`,
      description: `Benchmark course ${i}.`,
      credits: i % 4 === 3 ? 4 : 3,
      department: dept,
      prerequisite: withPrereq ? { course: FOUNDATION, min: 'C' } : null,
      prerequisiteCodes: withPrereq ? [FOUNDATION] : [],
      level: 100,
    });
  }

  const sections: DemoSection[] = [];
  const sectionCourse: number[] = [];
  const sectionSlot: number[] = [];
  for (let i = 0; i < sectionCount; i++) {
    const courseIndex = Math.floor(i / SECTIONS_PER_COURSE);
    const slot = i % SLOTS.length;
    const s = SLOTS[slot];
    sectionCourse.push(courseIndex);
    sectionSlot.push(slot);
    sections.push({
      id: stableUuid(`bench/${options.name}/${i}`),
      course_code: courses[courseIndex + 1].code,
      term_code: term.code,
      section_code: `00${(i % SECTIONS_PER_COURSE) + 1}`,
      kind: 'LECTURE',
      instructor: 'Staff',
      capacity: options.capacity,
      waitlist_capacity: options.waitlist,
      status: 'OPEN',
      meetings: [{ days: s.days, start_minute: s.start, end_minute: s.start + s.minutes, room: `R ${100 + (i % 400)}` }],
      linked: [],
    });
  }

  const students: DemoStudent[] = [];
  const digits = Math.max(5, String(studentCount).length);
  for (let n = 1; n <= studentCount; n++) {
    const id = `S${String(n).padStart(digits, '0')}`;
    students.push({
      id,
      name: `Bench Student ${n}`,
      email: `${id.toLowerCase()}@bench.example.edu`,
      program: 'Benchmark',
      class_standing: 'SENIOR',
      max_credits: 24,
      completed: [{ course_code: FOUNDATION, term_code: '2025FA', grade: 'B', credits: 3 }],
      window_opens_at: new Date(now.getTime() - 3600_000),
    });
  }

  // Popularity: Zipf over a shuffled order of the non-hot sections.
  const hotIndex = 0;
  const others = Array.from({ length: sectionCount }, (_, i) => i).filter((i) => options.hotShare === 0 || sectionCount === 1 || i !== hotIndex);
  for (let i = others.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [others[i], others[j]] = [others[j], others[i]];
  }
  const cumulative: number[] = [];
  let total = 0;
  for (let r = 0; r < others.length; r++) {
    total += 1 / Math.pow(r + 1, options.skew);
    cumulative.push(total);
  }
  const popular = () => {
    const x = rnd() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return others[lo];
  };

  const picks: number[][] = [];
  for (let n = 0; n < studentCount; n++) {
    const chosen: number[] = [];
    const courseTaken = new Set<number>();
    const slotTaken = new Set<number>();
    const fits = (sec: number) => !courseTaken.has(sectionCourse[sec]) && !slotTaken.has(sectionSlot[sec]);
    for (let k = 0; k < requestsPerStudent; k++) {
      let sec = -1;
      if (options.hotShare > 0 && rnd() < options.hotShare && fits(hotIndex)) sec = hotIndex;
      for (let attempt = 0; sec < 0 && attempt < 200; attempt++) {
        const candidate = popular();
        if (fits(candidate)) sec = candidate;
      }
      for (let scan = 0; sec < 0 && scan < sectionCount; scan++) if (fits(scan)) sec = scan;
      if (sec < 0) break;
      chosen.push(sec);
      courseTaken.add(sectionCourse[sec]);
      slotTaken.add(sectionSlot[sec]);
    }
    picks.push(chosen);
  }

  const requests: PlannedRequest[] = [];
  const perSection = new Array<number>(sectionCount).fill(0);
  for (let k = 0; k < requestsPerStudent; k++) {
    for (let n = 0; n < studentCount; n++) {
      const sec = picks[n][k];
      if (sec === undefined) continue;
      perSection[sec]++;
      requests.push({ studentId: students[n].id, sectionId: sections[sec].id, requestId: `rush-${options.name}-${n + 1}-${k + 1}` });
    }
  }
  const hottest = perSection.indexOf(Math.max(...perSection));

  return {
    options,
    data: { term, pastTerms: ['2025FA'], courses, sections, students },
    hotSectionId: sections[hottest].id,
    requests,
  };
}

/** How requests spread over sections: the top sections and the share they get. */
export function describeDemand(s: Scenario): { sectionsRequested: number; top: { sectionId: string; requests: number; places: number }[] } {
  const counts = new Map<string, number>();
  for (const r of s.requests) counts.set(r.sectionId, (counts.get(r.sectionId) ?? 0) + 1);
  const places = new Map(s.data.sections.map((x) => [x.id, x.capacity + x.waitlist_capacity]));
  const top = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([sectionId, requests]) => ({ sectionId, requests, places: places.get(sectionId) ?? 0 }));
  return { sectionsRequested: counts.size, top };
}
