import { Grade, type Prerequisite } from '../../../gen/web/coursereg/course/v1/course';

const GRADE_LABELS: [Grade, string][] = [
  [Grade.GRADE_A_PLUS, 'A+'],
  [Grade.GRADE_A, 'A'],
  [Grade.GRADE_A_MINUS, 'A-'],
  [Grade.GRADE_B_PLUS, 'B+'],
  [Grade.GRADE_B, 'B'],
  [Grade.GRADE_B_MINUS, 'B-'],
  [Grade.GRADE_C_PLUS, 'C+'],
  [Grade.GRADE_C, 'C'],
  [Grade.GRADE_C_MINUS, 'C-'],
  [Grade.GRADE_D_PLUS, 'D+'],
  [Grade.GRADE_D, 'D'],
  [Grade.GRADE_D_MINUS, 'D-'],
  [Grade.GRADE_F, 'F'],
];

export function gradeLabel(g: Grade): string {
  return GRADE_LABELS.find(([v]) => v === g)?.[1] ?? '';
}

function gradeFromLabel(s: string): Grade | undefined {
  return GRADE_LABELS.find(([, l]) => l === s.toUpperCase())?.[0];
}

/** For students: "CS 101 (C or better) and (MATH 120 or MATH 121)". */
export function describePrerequisite(p: Prerequisite | undefined, nested = false): string {
  const e = p?.expr;
  if (!e) return 'None';
  if (e.$case === 'course') {
    const g = e.course.minGrade ? gradeLabel(e.course.minGrade) : '';
    return g ? `${e.course.courseCode} (${g} or better)` : e.course.courseCode;
  }
  const items = (e.$case === 'allOf' ? e.allOf : e.anyOf).items;
  const joined = items.map((i) => describePrerequisite(i, true)).join(e.$case === 'allOf' ? ' and ' : ' or ');
  return nested && items.length > 1 ? `(${joined})` : joined;
}

/** The registrar's editable form: "CS 101 >= C and (MATH 120 or MATH 121)"; empty for none. */
export function formatPrerequisite(p: Prerequisite | undefined, nested = false): string {
  const e = p?.expr;
  if (!e) return '';
  if (e.$case === 'course') {
    const g = e.course.minGrade ? gradeLabel(e.course.minGrade) : '';
    return g ? `${e.course.courseCode} >= ${g}` : e.course.courseCode;
  }
  const items = (e.$case === 'allOf' ? e.allOf : e.anyOf).items;
  const joined = items.map((i) => formatPrerequisite(i, true)).join(e.$case === 'allOf' ? ' and ' : ' or ');
  return nested && items.length > 1 ? `(${joined})` : joined;
}

export class PrerequisiteSyntaxError extends Error {
  override readonly name = 'PrerequisiteSyntaxError';
}

/**
 * Parses the registrar's form back into a Prerequisite. Courses are "DEPT 123", an
 * optional minimum grade follows as ">= C+", groups use "and" / "or" with parentheses
 * (mixing both needs parentheses). Empty text means no prerequisite.
 *
 * @example parsePrerequisite('CS 101 >= C and (MATH 120 or MATH 121)')
 */
export function parsePrerequisite(text: string): Prerequisite | undefined {
  const src = text.trim();
  if (src === '') return undefined;
  const tokens = src.match(/\(|\)|>=|[A-Za-z]{2,8}\s+\d{3,4}[A-Za-z]?|[A-Za-z]+[+-]?|\S/g) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (msg: string): never => {
    throw new PrerequisiteSyntaxError(msg);
  };

  const primary = (): Prerequisite => {
    const t = peek();
    if (t === undefined) fail('The expression ends too early.');
    if (t === '(') {
      pos++;
      const inner = expression();
      if (peek() !== ')') fail('A closing parenthesis is missing.');
      pos++;
      return inner;
    }
    const m = /^([A-Za-z]{2,8})\s+(\d{3,4}[A-Za-z]?)$/.exec(t);
    if (!m) fail(`"${t}" is not a course code such as "CS 101".`);
    pos++;
    const courseCode = `${m![1].toUpperCase()} ${m![2].toUpperCase()}`;
    let minGrade = Grade.GRADE_UNSPECIFIED;
    if (peek() === '>=') {
      pos++;
      const g = peek();
      const grade = g === undefined ? undefined : gradeFromLabel(g);
      if (grade === undefined) fail(`"${g ?? ''}" is not a grade such as "C" or "B+".`);
      minGrade = grade!;
      pos++;
    }
    return { expr: { $case: 'course', course: { courseCode, minGrade } } };
  };

  const expression = (): Prerequisite => {
    const items = [primary()];
    let op: 'and' | 'or' | undefined;
    for (;;) {
      const t = peek()?.toLowerCase();
      if (t !== 'and' && t !== 'or') break;
      if (op && op !== t) fail('Use parentheses to mix "and" and "or".');
      op = t;
      pos++;
      items.push(primary());
    }
    if (!op) return items[0];
    return op === 'and' ? { expr: { $case: 'allOf', allOf: { items } } } : { expr: { $case: 'anyOf', anyOf: { items } } };
  };

  const result = expression();
  if (pos < tokens.length) fail(`Unexpected "${tokens[pos]}".`);
  return result;
}
