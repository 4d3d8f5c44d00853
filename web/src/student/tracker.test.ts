import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RegistrationState, type Registration } from '../../../gen/web/coursereg/registration/v1/registration';
import { ApiError, Code } from '../api/errors';
import { fakeApi } from '../test/fakes';
import { OutcomeTracker } from './tracker';

let clock = Date.parse('2026-11-24T10:00:00Z');
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
  createTime: new Date(clock),
  updateTime: new Date((clock += 1000)),
  credits: 3,
  ...extra,
});

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('OutcomeTracker', () => {
  it('polls a pending registration until it is decided', async () => {
    const GetRegistration = vi
      .fn()
      .mockImplementationOnce(async () => ({ registration: reg(RegistrationState.REGISTRATION_STATE_PENDING) }))
      .mockImplementationOnce(async () => ({ registration: reg(RegistrationState.REGISTRATION_STATE_WAITLISTED, { waitlistPosition: 2 }) }));
    const tracker = new OutcomeTracker(fakeApi({ registration: { GetRegistration } }), { pollBaseMs: 1000 });
    tracker.setLabel('sec-1', 'CS 101 section 001');
    tracker.registration(reg(RegistrationState.REGISTRATION_STATE_PENDING));
    expect(tracker.snapshot()[0]).toMatchObject({ state: 'pending', label: 'CS 101 section 001' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(GetRegistration).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1999);
    expect(GetRegistration).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(GetRegistration).toHaveBeenCalledTimes(2);
    expect(tracker.snapshot()[0]).toMatchObject({ state: 'waitlisted', waitlistPosition: 2 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(GetRegistration).toHaveBeenCalledTimes(2);
  });

  it('stops polling when the stream delivers the decision first', async () => {
    const GetRegistration = vi.fn();
    const tracker = new OutcomeTracker(fakeApi({ registration: { GetRegistration } }), { pollBaseMs: 1000 });
    tracker.registration(reg(RegistrationState.REGISTRATION_STATE_PENDING));
    tracker.registration(reg(RegistrationState.REGISTRATION_STATE_ENROLLED));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(GetRegistration).not.toHaveBeenCalled();
    expect(tracker.snapshot().map((o) => o.state)).toEqual(['enrolled']);
  });

  it('ignores an older update arriving after a newer one', () => {
    const tracker = new OutcomeTracker(fakeApi());
    const old = reg(RegistrationState.REGISTRATION_STATE_PENDING);
    tracker.registration(reg(RegistrationState.REGISTRATION_STATE_ENROLLED));
    tracker.registration(old);
    expect(tracker.snapshot()[0].state).toBe('enrolled');
    tracker.dispose();
  });

  it('announces a promotion of a registration known quietly from the schedule', () => {
    const tracker = new OutcomeTracker(fakeApi());
    const changes: string[] = [];
    tracker.onChange((now, before) => changes.push(`${before?.state ?? 'none'}->${now.state}`));
    tracker.registration(reg(RegistrationState.REGISTRATION_STATE_WAITLISTED, { waitlistPosition: 1 }), true);
    expect(tracker.snapshot()).toEqual([]);
    expect(changes).toEqual([]);
    tracker.registration(reg(RegistrationState.REGISTRATION_STATE_ENROLLED));
    expect(tracker.snapshot()[0]).toMatchObject({ state: 'enrolled', promoted: true });
    expect(changes).toEqual(['waitlisted->enrolled']);
  });

  it('lists held sections with their meetings, pending ones included', () => {
    const tracker = new OutcomeTracker(fakeApi({ registration: { GetRegistration: () => new Promise<never>(() => undefined) } }));
    const meetings = [{ days: [1], startTime: '09:00', endTime: '09:50', room: '' }];
    tracker.setLabel('sec-1', 'CS 101 section 001', meetings);
    tracker.registration(reg(RegistrationState.REGISTRATION_STATE_PENDING));
    expect(tracker.heldItems()).toEqual([{ id: 'sec-1', label: 'CS 101 section 001', meetings }]);
    tracker.registration(reg(RegistrationState.REGISTRATION_STATE_REJECTED, { reasonCode: 'SECTION_FULL' }));
    expect(tracker.heldItems()).toEqual([]);
    tracker.dispose();
  });

  it('records refusals with their reason, newest first', () => {
    const tracker = new OutcomeTracker(fakeApi());
    tracker.setLabel('a', 'CS 101 section 001');
    tracker.refusal('a', 'SECTION_FULL', 'full');
    tracker.refusal('b', undefined, undefined, new ApiError(Code.RESOURCE_EXHAUSTED, 'limited', undefined, {}, [], 4));
    expect(tracker.snapshot().map((o) => [o.sectionId, o.state, o.reasonCode])).toEqual([
      ['b', 'refused', 'RATE_LIMITED'],
      ['a', 'refused', 'SECTION_FULL'],
    ]);
    expect(tracker.latestFor('a')?.label).toBe('CS 101 section 001');
  });
});
