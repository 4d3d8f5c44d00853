import { createHash } from 'node:crypto';

/**
 * Deterministic demo data of realistic size: one term, 300 courses in 15
 * departments with prerequisites, about 800 sections with meeting times (some
 * lectures with linked labs), 5,000 students with academic records, a few holds
 * and a registration window for everyone. The same seed gives the same data;
 * only the term's dates follow the calendar so that registration is open now.
 */

/** Small fast PRNG (mulberry32) so the data is the same on every machine. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
  };
}

/** A stable UUID derived from a name (sha-1 based, version 5 layout). */
export function stableUuid(name: string): string {
  const h = createHash('sha1').update(`coursereg:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const DEPARTMENTS: [string, string, string[]][] = [
  ['CS', 'Computer Science', ['Programming', 'Data Structures', 'Algorithms', 'Systems', 'Databases', 'Networks', 'Compilers', 'Security', 'Machine Learning', 'Graphics']],
  ['MATH', 'Mathematics', ['Calculus', 'Linear Algebra', 'Discrete Mathematics', 'Analysis', 'Abstract Algebra', 'Topology', 'Number Theory', 'Differential Equations', 'Geometry', 'Combinatorics']],
  ['PHYS', 'Physics', ['Mechanics', 'Electromagnetism', 'Waves and Optics', 'Thermodynamics', 'Quantum Mechanics', 'Relativity', 'Astrophysics', 'Solid State', 'Nuclear Physics', 'Plasma Physics']],
  ['CHEM', 'Chemistry', ['General Chemistry', 'Organic Chemistry', 'Physical Chemistry', 'Analytical Chemistry', 'Biochemistry', 'Inorganic Chemistry', 'Polymers', 'Spectroscopy', 'Kinetics', 'Materials']],
  ['BIOL', 'Biology', ['Cell Biology', 'Genetics', 'Ecology', 'Evolution', 'Microbiology', 'Physiology', 'Neuroscience', 'Botany', 'Immunology', 'Marine Biology']],
  ['ECON', 'Economics', ['Microeconomics', 'Macroeconomics', 'Econometrics', 'Game Theory', 'Labor Economics', 'Public Finance', 'Development', 'Trade', 'Behavioral Economics', 'Monetary Policy']],
  ['HIST', 'History', ['World History', 'American History', 'Medieval Europe', 'Ancient Rome', 'Modern China', 'Latin America', 'African History', 'Cold War', 'History of Science', 'Historiography']],
  ['ENGL', 'English', ['Composition', 'Literature Survey', 'Shakespeare', 'Poetry', 'The Novel', 'Creative Writing', 'Rhetoric', 'Modernism', 'Literary Theory', 'Film and Text']],
  ['PSYC', 'Psychology', ['General Psychology', 'Developmental Psychology', 'Cognitive Psychology', 'Social Psychology', 'Abnormal Psychology', 'Research Methods', 'Perception', 'Personality', 'Learning and Memory', 'Health Psychology']],
  ['PHIL', 'Philosophy', ['Logic', 'Ethics', 'Epistemology', 'Metaphysics', 'Philosophy of Mind', 'Political Philosophy', 'Aesthetics', 'Philosophy of Science', 'Ancient Philosophy', 'Existentialism']],
  ['ART', 'Art', ['Drawing', 'Painting', 'Sculpture', 'Art History', 'Photography', 'Printmaking', 'Digital Art', 'Ceramics', 'Design', 'Contemporary Art']],
  ['MUS', 'Music', ['Music Theory', 'Ear Training', 'Music History', 'Composition', 'Conducting', 'Orchestration', 'Jazz', 'World Music', 'Performance', 'Electronic Music']],
  ['STAT', 'Statistics', ['Probability', 'Statistical Inference', 'Regression', 'Bayesian Statistics', 'Time Series', 'Experimental Design', 'Sampling', 'Multivariate Analysis', 'Statistical Computing', 'Causal Inference']],
  ['EE', 'Electrical Engineering', ['Circuits', 'Signals and Systems', 'Electronics', 'Digital Logic', 'Control Systems', 'Communications', 'Power Systems', 'Microprocessors', 'Photonics', 'Embedded Systems']],
  ['ME', 'Mechanical Engineering', ['Statics', 'Dynamics', 'Thermodynamics', 'Fluid Mechanics', 'Heat Transfer', 'Machine Design', 'Materials', 'Manufacturing', 'Vibrations', 'Robotics']],
];
const LEVELS = [100, 100, 100, 100, 100, 100, 200, 200, 200, 200, 200, 200, 300, 300, 300, 300, 300, 400, 400, 400];
const LAB_DEPARTMENTS = new Set(['CS', 'PHYS', 'CHEM', 'BIOL', 'EE']);
const FIRST = ['Ava', 'Ben', 'Chloe', 'Dev', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jamal', 'Kira', 'Liam', 'Maya', 'Noah', 'Olga', 'Priya', 'Quinn', 'Rosa', 'Sam', 'Tariq', 'Uma', 'Victor', 'Wen', 'Ximena', 'Yusuf', 'Zoe'];
const LAST = ['Anders', 'Brown', 'Chen', 'Diaz', 'Evans', 'Fischer', 'Garcia', 'Haddad', 'Ito', 'Johnson', 'Kim', 'Lopez', 'Mensah', 'Nguyen', 'Okafor', 'Patel', 'Quispe', 'Rossi', 'Singh', 'Tanaka', 'Usman', 'Volkov', 'Wright', 'Xu', 'Yilmaz', 'Zhang'];
const INSTRUCTORS = ['Dr. Ahmed', 'Dr. Baker', 'Prof. Castillo', 'Dr. Dubois', 'Prof. Eriksen', 'Dr. Fujita', 'Prof. Greene', 'Dr. Horvat', 'Prof. Iyer', 'Dr. Jansen', 'Prof. Kowalski', 'Dr. Laurent', 'Prof. Moreau', 'Dr. Nakamura', 'Prof. Osei'];
const GRADES = ['A_PLUS', 'A', 'A', 'A_MINUS', 'B_PLUS', 'B', 'B', 'B_MINUS', 'C_PLUS', 'C', 'C_MINUS', 'D', 'F'];
const STANDINGS = ['FRESHMAN', 'SOPHOMORE', 'JUNIOR', 'SENIOR'] as const;
/** Weekly patterns: days bit set (bit 1 Monday ... bit 5 Friday) and length in minutes. */
const PATTERNS = [
  { days: (1 << 1) | (1 << 3) | (1 << 5), minutes: 50, starts: [480, 540, 600, 660, 720, 780, 840, 900] },
  { days: (1 << 2) | (1 << 4), minutes: 75, starts: [480, 570, 660, 750, 840, 930] },
  { days: (1 << 1) | (1 << 3), minutes: 75, starts: [510, 600, 690, 780, 870] },
];

export interface DemoTerm {
  code: string;
  name: string;
  start_date: string;
  end_date: string;
  registration_opens_at: Date;
  add_drop_deadline_at: Date;
  status: 'OPEN';
}
export interface DemoCourse {
  code: string;
  title: string;
  description: string;
  credits: number;
  department: string;
  prerequisite: unknown | null;
  prerequisiteCodes: string[];
  level: number;
}
export interface DemoSection {
  id: string;
  course_code: string;
  term_code: string;
  section_code: string;
  kind: 'LECTURE' | 'LAB';
  instructor: string;
  capacity: number;
  waitlist_capacity: number;
  status: 'OPEN';
  meetings: { days: number; start_minute: number; end_minute: number; room: string }[];
  linked: string[];
}
export interface DemoStudent {
  id: string;
  name: string;
  email: string;
  program: string;
  class_standing: (typeof STANDINGS)[number];
  max_credits: number;
  completed: { course_code: string; term_code: string; grade: string; credits: number }[];
  hold?: { kind: 'FINANCIAL' | 'ADVISING' | 'ADMINISTRATIVE'; reason: string };
  window_opens_at: Date;
}
export interface DemoData {
  term: DemoTerm;
  pastTerms: string[];
  courses: DemoCourse[];
  sections: DemoSection[];
  students: DemoStudent[];
}

/** The term whose registration is happening around `now`: spring if it is autumn, else autumn. */
export function demoTerm(now: Date): DemoTerm {
  const y = now.getUTCFullYear();
  const spring = now.getUTCMonth() >= 7;
  const year = spring ? y + 1 : y;
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return {
    code: `${year}${spring ? 'SP' : 'FA'}`,
    name: `${spring ? 'Spring' : 'Fall'} ${year}`,
    start_date: spring ? `${year}-01-11` : `${year}-08-31`,
    end_date: spring ? `${year}-05-07` : `${year}-12-18`,
    registration_opens_at: new Date(day - 3 * 86400_000 + 14 * 3600_000),
    add_drop_deadline_at: new Date(day + 60 * 86400_000),
    status: 'OPEN',
  };
}

export function generateDemoData(now = new Date(), opts: { students?: number } = {}): DemoData {
  const rnd = prng(20261123);
  const term = demoTerm(now);
  const pastTerms = ['2023FA', '2024SP', '2024FA', '2025SP', '2025FA', '2026SP'];

  const courses: DemoCourse[] = [];
  for (const [dept, deptName, topics] of DEPARTMENTS) {
    const own: DemoCourse[] = [];
    LEVELS.forEach((level, i) => {
      const code = `${dept} ${level + (i % 6) * 10 + 1}`;
      const topic = topics[i % topics.length];
      const lower = own.filter((c) => c.level === level - 100);
      let prerequisite: unknown = null;
      let prerequisiteCodes: string[] = [];
      if (lower.length > 0) {
        const a = lower[i % lower.length];
        if (level >= 300 && lower.length >= 3) {
          const b = lower[(i + 1) % lower.length];
          const c = lower[(i + 2) % lower.length];
          prerequisite = { all: [{ course: a.code, min: 'C_MINUS' }, { any: [{ course: b.code }, { course: c.code }] }] };
          prerequisiteCodes = [a.code, b.code, c.code];
        } else {
          prerequisite = { course: a.code, min: 'D' };
          prerequisiteCodes = [a.code];
        }
      }
      const course: DemoCourse = {
        code,
        title: `${level >= 300 ? 'Advanced ' : level === 100 ? 'Introduction to ' : ''}${topic}${level === 400 ? ' Seminar' : ''}`,
        description: `${deptName}: ${topic.toLowerCase()} at the ${level}-level.`,
        credits: level === 400 ? 3 : rnd.pick([3, 3, 4]),
        department: dept,
        prerequisite,
        prerequisiteCodes,
        level,
      };
      own.push(course);
    });
    courses.push(...own);
  }

  const sections: DemoSection[] = [];
  const meeting = (kind: 'LECTURE' | 'LAB') => {
    if (kind === 'LAB') {
      const day = rnd.int(1, 5);
      const start = rnd.pick([780, 900, 1020]);
      return [{ days: 1 << day, start_minute: start, end_minute: start + 110, room: `LAB ${rnd.int(1, 12)}` }];
    }
    const p = rnd.pick(PATTERNS);
    const start = rnd.pick(p.starts);
    return [{ days: p.days, start_minute: start, end_minute: start + p.minutes, room: `${rnd.pick(['ENG', 'SCI', 'HUM', 'LIB', 'ART'])} ${rnd.int(100, 450)}` }];
  };
  for (const c of courses) {
    const lectures = c.level === 100 ? 3 : c.level === 400 ? 2 : rnd.int(2, 3);
    const withLabs = LAB_DEPARTMENTS.has(c.department) && c.level === 100;
    const labs: DemoSection[] = [];
    if (withLabs) {
      for (let l = 1; l <= 2; l++) {
        const section_code = `L0${l}`;
        labs.push({
          id: stableUuid(`${term.code}/${c.code}/${section_code}`),
          course_code: c.code,
          term_code: term.code,
          section_code,
          kind: 'LAB',
          instructor: 'Staff',
          capacity: 24,
          waitlist_capacity: 6,
          status: 'OPEN',
          meetings: meeting('LAB'),
          linked: [],
        });
      }
    }
    for (let s = 1; s <= lectures; s++) {
      const section_code = `00${s}`;
      const capacity = c.level === 100 ? rnd.pick([60, 90, 120, 150, 200]) : c.level === 400 ? rnd.pick([15, 20, 25]) : rnd.pick([30, 35, 40, 45, 60]);
      sections.push({
        id: stableUuid(`${term.code}/${c.code}/${section_code}`),
        course_code: c.code,
        term_code: term.code,
        section_code,
        kind: 'LECTURE',
        instructor: rnd.pick(INSTRUCTORS),
        capacity,
        waitlist_capacity: Math.max(5, Math.round(capacity * 0.15)),
        status: 'OPEN',
        meetings: meeting('LECTURE'),
        linked: labs.map((l) => l.id),
      });
    }
    sections.push(...labs);
  }

  const byDept = new Map<string, DemoCourse[]>();
  for (const c of courses) (byDept.get(c.department) ?? byDept.set(c.department, []).get(c.department)!).push(c);
  const studentCount = opts.students ?? 5000;
  const students: DemoStudent[] = [];
  for (let n = 1; n <= studentCount; n++) {
    const id = `S${String(n).padStart(4, '0')}`;
    const first = rnd.pick(FIRST);
    const last = rnd.pick(LAST);
    const [dept, deptName] = rnd.pick(DEPARTMENTS);
    const standingIndex = rnd.int(0, 3);
    const standing = STANDINGS[standingIndex];
    const completed: DemoStudent['completed'] = [];
    const termsDone = pastTerms.slice(pastTerms.length - standingIndex * 2);
    const taken = new Set<string>();
    termsDone.forEach((termCode, t) => {
      const level = 100 + Math.floor(t / 2) * 100;
      const pool = [...(byDept.get(dept) ?? []).filter((c) => c.level === level), ...courses.filter((c) => c.level === 100 && c.department !== dept)];
      for (let k = 0; k < 4; k++) {
        const c = rnd.pick(pool);
        if (taken.has(c.code)) continue;
        taken.add(c.code);
        const grade = rnd.pick(GRADES);
        completed.push({ course_code: c.code, term_code: termCode, grade, credits: grade === 'F' ? 0 : c.credits });
      }
    });
    const holdRoll = rnd.next();
    students.push({
      id,
      name: `${first} ${last}`,
      email: `${first}.${last}.${id}@students.example.edu`.toLowerCase(),
      program: deptName,
      class_standing: standing,
      max_credits: standing === 'FRESHMAN' ? 16 : 18,
      completed,
      hold:
        holdRoll < 0.004
          ? { kind: 'FINANCIAL', reason: 'Unpaid tuition balance; contact the bursar.' }
          : holdRoll < 0.008
            ? { kind: 'ADVISING', reason: 'Meet your advisor before registering.' }
            : holdRoll < 0.01
              ? { kind: 'ADMINISTRATIVE', reason: 'Immunization record missing.' }
              : undefined,
      // Seniors first, a day apart per standing; all have opened by the time the demo runs.
      window_opens_at: new Date(term.registration_opens_at.getTime() + (3 - standingIndex) * 12 * 3600_000),
    });
  }
  return { term, pastTerms, courses, sections, students };
}
