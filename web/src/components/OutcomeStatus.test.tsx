import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RegistrationState, type Registration } from '../../../gen/web/coursereg/registration/v1/registration';
import { ApiError, Code } from '../api/errors';
import { outcomeFromRefusal, outcomeFromRegistration, outcomeText } from './outcome';
import { OutcomeStatus } from './OutcomeStatus';

const reg = (state: RegistrationState, extra: Partial<Registration> = {}): Registration => ({
  id: 'r1',
  studentId: 'S0001',
  sectionId: 'sec-1',
  termCode: '2027SP',
  courseCode: 'CS 101',
  state,
  reasonCode: '',
  reasonMessage: '',
  waitlistPosition: 0,
  requestId: 'q',
  requestedBy: 'S0001',
  createTime: new Date(),
  updateTime: new Date(),
  credits: 3,
  ...extra,
});

afterEach(() => vi.useRealTimers());

describe('outcome text', () => {
  it('says pending, enrolled, waitlisted with position, dropped', () => {
    expect(outcomeText(outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_PENDING), 'CS 101 section 001'))).toMatch(/^Pending/);
    expect(outcomeText(outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_ENROLLED), 'x'))).toBe('Enrolled');
    expect(outcomeText(outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_WAITLISTED, { waitlistPosition: 4 }), 'x'))).toBe('Waitlisted — position 4');
    expect(outcomeText(outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_DROPPED), 'x'))).toBe('Dropped');
  });

  it('recognises a promotion from the waitlist', () => {
    const before = outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_WAITLISTED, { waitlistPosition: 1 }), 'x');
    expect(outcomeText(outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_ENROLLED), 'x', before))).toBe('Enrolled — promoted from the waitlist');
  });

  it('explains a rejection with the plain-language reason', () => {
    const o = outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_REJECTED, { reasonCode: 'PREREQUISITE_NOT_MET', reasonMessage: 'You need CS 100.' }), 'x');
    expect(outcomeText(o)).toBe('Not registered: You have not completed the prerequisites for this course.');
  });

  it('explains a refusal at the door, including a rate limit', () => {
    expect(outcomeText(outcomeFromRefusal('s', 'x', 'SECTION_FULL', 'full'))).toBe('Not registered: This section is full, and its waitlist is full too.');
    const limited = outcomeFromRefusal('s', 'x', undefined, undefined, new ApiError(Code.RESOURCE_EXHAUSTED, 'rate limited', undefined, {}, [], 5));
    expect(limited.reasonCode).toBe('RATE_LIMITED');
    expect(outcomeText(limited)).toMatch(/Too many requests/);
  });
});

describe('OutcomeStatus', () => {
  it('shows the state for tests and assistive tech, and the server detail for refusals', () => {
    render(<OutcomeStatus outcome={outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_REJECTED, { reasonCode: 'TIME_CONFLICT', reasonMessage: 'Meets with MATH 120 section 002.' }), 'x')} />);
    const el = screen.getByTestId('outcome-status');
    expect(el.getAttribute('data-state')).toBe('rejected');
    expect(el.getAttribute('data-reason')).toBe('TIME_CONFLICT');
    expect(el.textContent).toBe('Not registered: This section meets at the same time as a section you are enrolled in. (Meets with MATH 120 section 002.)');
  });

  it('counts down the seconds of a rate-limited refusal', () => {
    vi.useFakeTimers();
    const o = outcomeFromRefusal('s', 'x', undefined, undefined, new ApiError(Code.RESOURCE_EXHAUSTED, 'rate limited', undefined, {}, [], 3));
    render(<OutcomeStatus outcome={o} />);
    expect(screen.getByTestId('outcome-status').textContent).toContain('Try again in 3 seconds.');
    act(() => vi.advanceTimersByTime(2000));
    expect(screen.getByTestId('outcome-status').textContent).toContain('Try again in 1 second.');
    act(() => vi.advanceTimersByTime(1500));
    expect(screen.getByTestId('outcome-status').textContent).not.toContain('Try again in');
  });
});
