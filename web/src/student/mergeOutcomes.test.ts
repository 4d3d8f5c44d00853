import { describe, expect, it } from 'vitest';
import { RegistrationState, type Registration } from '../../../gen/web/coursereg/registration/v1/registration';
import type { GetScheduleResponse } from '../../../gen/web/coursereg/registration/v1/registration_service';
import { outcomeFromRegistration } from '../components/outcome';
import { mergeOutcomes } from './StudentContext';

const reg = (state: RegistrationState, at: number, extra: Partial<Registration> = {}): Registration => ({
  id: 'r1', studentId: 'S0001', sectionId: 's1', termCode: 'T', courseCode: 'CS 101', state, reasonCode: '', reasonMessage: '', waitlistPosition: 0,
  requestId: 'q', requestedBy: 'S0001', createTime: new Date(0), updateTime: new Date(at), credits: 3, ...extra,
});
const schedule = (r: Registration): GetScheduleResponse => ({ entries: [{ registration: r, courseTitle: 'x', sectionCode: '001', meetingTimes: [], instructor: '' }], enrolledCredits: 0, maxCredits: 18 });

describe('mergeOutcomes', () => {
  it('shows a newer streamed state over the loaded schedule', () => {
    const data = schedule(reg(RegistrationState.REGISTRATION_STATE_PENDING, 1000));
    const merged = mergeOutcomes(data, [outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_WAITLISTED, 2000, { waitlistPosition: 4 }), 'x')]);
    expect(merged!.entries[0].registration).toMatchObject({ state: RegistrationState.REGISTRATION_STATE_WAITLISTED, waitlistPosition: 4 });
  });

  it('keeps the schedule when it is as new as the outcome, or there is none', () => {
    const data = schedule(reg(RegistrationState.REGISTRATION_STATE_ENROLLED, 3000));
    expect(mergeOutcomes(data, [outcomeFromRegistration(reg(RegistrationState.REGISTRATION_STATE_PENDING, 1000), 'x')])).toBe(data);
    expect(mergeOutcomes(data, [])).toBe(data);
    expect(mergeOutcomes(undefined, [])).toBeUndefined();
  });
});
