import { describe, expect, it } from 'vitest';
import { Grade, type Prerequisite } from '../../../gen/web/coursereg/course/v1/course';
import { describePrerequisite, formatPrerequisite, parsePrerequisite, PrerequisiteSyntaxError } from './prerequisites';

const course = (courseCode: string, minGrade = Grade.GRADE_UNSPECIFIED): Prerequisite => ({ expr: { $case: 'course', course: { courseCode, minGrade } } });

describe('prerequisites', () => {
  const expr: Prerequisite = { expr: { $case: 'allOf', allOf: { items: [course('CS 101', Grade.GRADE_C), { expr: { $case: 'anyOf', anyOf: { items: [course('MATH 120'), course('MATH 121', Grade.GRADE_B_MINUS)] } } }] } } };

  it('describes an expression for students', () => {
    expect(describePrerequisite(expr)).toBe('CS 101 (C or better) and (MATH 120 or MATH 121 (B- or better))');
    expect(describePrerequisite(undefined)).toBe('None');
  });

  it('formats and parses the registrar form back to the same expression', () => {
    const text = formatPrerequisite(expr);
    expect(text).toBe('CS 101 >= C and (MATH 120 or MATH 121 >= B-)');
    expect(parsePrerequisite(text)).toEqual(expr);
  });

  it('accepts lower case and extra spaces; empty means none', () => {
    expect(parsePrerequisite('  cs 101  >= a+ ')).toEqual(course('CS 101', Grade.GRADE_A_PLUS));
    expect(parsePrerequisite('   ')).toBeUndefined();
  });

  it('refuses mixed and/or without parentheses, bad codes and bad grades', () => {
    expect(() => parsePrerequisite('CS 101 and CS 102 or CS 103')).toThrow(PrerequisiteSyntaxError);
    expect(() => parsePrerequisite('CS101')).toThrow(/course code/);
    expect(() => parsePrerequisite('CS 101 >= Q')).toThrow(/grade/);
    expect(() => parsePrerequisite('(CS 101 or CS 102')).toThrow(/parenthesis/);
    expect(() => parsePrerequisite('CS 101 CS 102')).toThrow(/Unexpected/);
  });
});
