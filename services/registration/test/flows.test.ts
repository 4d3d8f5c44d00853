import * as grpc from '@grpc/grpc-js';
import { DayOfWeek } from '../../../gen/coursereg/course/v1/course';
import { RegistrationState, type Registration } from '../../../gen/coursereg/registration/v1/registration';
import type { WatchSectionResponse, WatchStudentResponse } from '../../../gen/coursereg/registration/v1/registration_service';
import { HoldKind } from '../../../gen/coursereg/student/v1/student';
import { courseInput, requires } from '../../course/test/course.fixtures';
import { rpcError } from '../../shared/testing/harness';
import { invariantViolations, startRegistrationWorld, type RegistrationWorld } from './registration.fixtures';

const S = RegistrationState;
let w: RegistrationWorld;
let next = 1;
/** A fresh student for each test. */
const fresh = async (maxCredits = 18) => (await w.addStudents(next++ + 1000, 1, maxCredits))[0];
const meeting = (days: DayOfWeek[], startTime: string, endTime: string) => [{ days, startTime, endTime, room: 'R1' }];
const MON = DayOfWeek.DAY_OF_WEEK_MONDAY;
const TUE = DayOfWeek.DAY_OF_WEEK_TUESDAY;

async function register(studentId: string, sectionId: string, requestId = `req-${sectionId.slice(0, 8)}`): Promise<Registration> {
  const r = await w.api.register({ sectionId, requestId, studentId: '' }, await w.as(studentId));
  return w.final(r.registration!.id);
}

beforeAll(async () => {
  w = await startRegistrationWorld('flows');
}, 60_000);
afterAll(async () => w?.stop());
afterEach(async () => expect(await invariantViolations(w.db)).toEqual([]));

describe('eligibility at the door', () => {
  test('register_whenHoldActive_failsWithHoldActive', async () => {
    const s = await fresh();
    await w.students.placeHold({ studentId: s, kind: HoldKind.HOLD_KIND_FINANCIAL, reason: 'unpaid fees' }, w.registrar);
    const err = await rpcError(w.api.register({ sectionId: (await w.section()).id, requestId: 'h', studentId: '' }, await w.as(s)));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.reason).toBe('HOLD_ACTIVE');
  });

  test('register_whenWindowNotOpen_failsWithWindowClosed', async () => {
    const s = await fresh();
    await w.students.setRegistrationWindow({ studentId: s, termCode: '2027SP', opensTime: new Date(Date.now() + 86_400_000) }, w.registrar);
    const err = await rpcError(w.api.register({ sectionId: (await w.section()).id, requestId: 'w', studentId: '' }, await w.as(s)));
    expect(err.reason).toBe('REGISTRATION_WINDOW_CLOSED');
  });

  test('register_whenPrerequisiteMissing_failsWithPrerequisiteNotMet', async () => {
    const s = await fresh();
    await w.section({ course: 'MATH 101' });
    await w.catalog.createCourse({ course: courseInput('MATH 201', { prerequisite: requires('MATH 101') }) }, w.registrar);
    const adv = await w.section({ course: 'MATH 201' });
    const err = await rpcError(w.api.register({ sectionId: adv.id, requestId: 'p', studentId: '' }, await w.as(s)));
    expect(err.reason).toBe('PREREQUISITE_NOT_MET');
    expect(err.metadata.missing_courses).toBe('MATH 101');
  });

  test('register_whenSectionUnknown_isNotFound', async () => {
    const err = await rpcError(w.api.register({ sectionId: '00000000-0000-4000-8000-000000000000', requestId: 'n', studentId: '' }, await w.as(await fresh())));
    expect(err.code).toBe(grpc.status.NOT_FOUND);
  });
});

describe('authoritative rules in the worker', () => {
  test('register_whenTimeConflictsWithEnrolled_isRejectedTimeConflict', async () => {
    const s = await fresh();
    const a = await w.section({ meetingTimes: meeting([MON], '10:00', '10:50') });
    const b = await w.section({ meetingTimes: meeting([MON], '10:30', '11:20') });
    expect((await register(s, a.id)).state).toBe(S.REGISTRATION_STATE_ENROLLED);
    const r = await register(s, b.id);
    expect(r.state).toBe(S.REGISTRATION_STATE_REJECTED);
    expect(r.reasonCode).toBe('TIME_CONFLICT');
  });

  test('register_whenCreditLimitWouldBeExceeded_isRejected', async () => {
    const s = await fresh(6);
    const a = await w.section({ credits: 4, meetingTimes: meeting([MON], '08:00', '08:50') });
    const b = await w.section({ credits: 3, meetingTimes: meeting([TUE], '08:00', '08:50') });
    expect((await register(s, a.id)).state).toBe(S.REGISTRATION_STATE_ENROLLED);
    const r = await register(s, b.id);
    expect(r.reasonCode).toBe('CREDIT_LIMIT_EXCEEDED');
  });

  test('register_whenAnotherSectionOfSameCourseHeld_isRejectedDuplicateCourse', async () => {
    const s = await fresh();
    const a = await w.section({ course: 'HIST 110', sectionCode: '001', meetingTimes: meeting([MON], '13:00', '13:50') });
    const b = await w.section({ course: 'HIST 110', sectionCode: '002', meetingTimes: meeting([TUE], '13:00', '13:50') });
    await register(s, a.id);
    expect((await register(s, b.id)).reasonCode).toBe('DUPLICATE_COURSE');
  });

  test('register_whenLinkedSectionMissing_isRejected_andAllowedWithLab', async () => {
    const s = await fresh();
    const lab = await w.section({ course: 'CHEM 101', sectionCode: 'L01', meetingTimes: meeting([TUE], '14:00', '15:50') });
    const lecture = await w.section({ course: 'CHEM 101', sectionCode: '001', linkedSectionIds: [lab.id], meetingTimes: meeting([MON], '14:00', '14:50') });
    expect((await register(s, lecture.id, 'lec-1')).reasonCode).toBe('LINKED_SECTION_REQUIRED');
    expect((await register(s, lab.id)).state).toBe(S.REGISTRATION_STATE_ENROLLED);
    expect((await register(s, lecture.id, 'lec-2')).state).toBe(S.REGISTRATION_STATE_ENROLLED);
  });

  test('register_whenHoldPlacedAfterTheDoor_workerRejectsWithHoldActive', async () => {
    const s = await fresh();
    const section = await w.section();
    for (const wk of w.workers.splice(0)) await wk.stop();
    const r = await w.api.register({ sectionId: section.id, requestId: 'late-hold', studentId: '' }, await w.as(s));
    await w.students.placeHold({ studentId: s, kind: HoldKind.HOLD_KIND_ADVISING, reason: 'see advisor' }, w.registrar);
    await w.startWorker();
    const final = await w.final(r.registration!.id);
    expect(final.state).toBe(S.REGISTRATION_STATE_REJECTED);
    expect(final.reasonCode).toBe('HOLD_ACTIVE');
  });
});

describe('drop, promotion and swap', () => {
  test('drop_promotesFirstEligibleWaitlisted_andRecordsWhySkipped', async () => {
    const section = await w.section({ capacity: 1, waitlistCapacity: 3, meetingTimes: meeting([MON], '16:00', '16:50') });
    const [a, b, c] = [await fresh(), await fresh(), await fresh()];
    expect((await register(a, section.id)).state).toBe(S.REGISTRATION_STATE_ENROLLED);
    const rb = await register(b, section.id);
    const rc = await register(c, section.id);
    expect([rb.state, rc.state]).toEqual([S.REGISTRATION_STATE_WAITLISTED, S.REGISTRATION_STATE_WAITLISTED]);
    expect((await w.api.getWaitlistPosition({ sectionId: section.id, studentId: '' }, await w.as(c))).position).toBe(2);
    await w.students.placeHold({ studentId: b, kind: HoldKind.HOLD_KIND_FINANCIAL, reason: 'unpaid' }, w.registrar);

    const res = await w.api.drop({ sectionId: section.id, requestId: 'drop-1', studentId: '' }, await w.as(a));
    expect(res.registration!.state).toBe(S.REGISTRATION_STATE_DROPPED);
    expect(res.promoted!.studentId).toBe(c);
    expect(res.promoted!.state).toBe(S.REGISTRATION_STATE_ENROLLED);
    const skipped = (await w.api.getRegistration({ id: rb.id }, w.registrar)).registration!;
    expect(skipped.state).toBe(S.REGISTRATION_STATE_WAITLISTED);
    expect(skipped.reasonCode).toBe('HOLD_ACTIVE');
    expect(skipped.waitlistPosition).toBe(1);
    const events = await w.api.listAuditEvents({ subject: { $case: 'sectionId', sectionId: section.id }, pageSize: 0, pageToken: '' }, w.registrar);
    expect(events.events.map((e) => e.kind)).toEqual(['REQUESTED', 'DECIDED', 'REQUESTED', 'DECIDED', 'REQUESTED', 'DECIDED', 'DROPPED', 'WAITLIST_SKIPPED', 'PROMOTED']);
    expect(events.events.find((e) => e.kind === 'WAITLIST_SKIPPED')!.reasonCode).toBe('HOLD_ACTIVE');
    // A repeated drop answers the same.
    const again = await w.api.drop({ sectionId: section.id, requestId: 'drop-1', studentId: '' }, await w.as(a));
    expect(again.registration!.id).toBe(res.registration!.id);
  });

  test('swap_whenAddHasSeat_movesStudentAtomically', async () => {
    const s = await fresh();
    const from = await w.section({ course: 'ENG 200', sectionCode: '001', meetingTimes: meeting([MON], '11:00', '11:50') });
    const to = await w.section({ course: 'ENG 200', sectionCode: '002', meetingTimes: meeting([MON], '11:00', '11:50') });
    await register(s, from.id);
    const res = await w.api.swap({ dropSectionId: from.id, addSectionId: to.id, requestId: 'swap-1', studentId: '' }, await w.as(s));
    expect(res.dropped!.state).toBe(S.REGISTRATION_STATE_DROPPED);
    expect(res.added!.state).toBe(S.REGISTRATION_STATE_ENROLLED);
    expect(res.added!.sectionId).toBe(to.id);
    const again = await w.api.swap({ dropSectionId: from.id, addSectionId: to.id, requestId: 'swap-1', studentId: '' }, await w.as(s));
    expect(again.added!.id).toBe(res.added!.id);
  });

  test('swap_whenAddIsFull_changesNothing', async () => {
    const [s, other] = [await fresh(), await fresh()];
    const from = await w.section({ meetingTimes: meeting([TUE], '11:00', '11:50') });
    const to = await w.section({ capacity: 1, waitlistCapacity: 0, meetingTimes: meeting([TUE], '15:00', '15:50') });
    await register(s, from.id);
    await register(other, to.id);
    const err = await rpcError(w.api.swap({ dropSectionId: from.id, addSectionId: to.id, requestId: 'swap-full', studentId: '' }, await w.as(s)));
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.reason).toBe('SECTION_FULL');
    const schedule = await w.api.getSchedule({ studentId: s, termCode: '2027SP' }, w.registrar);
    expect(schedule.entries.map((e) => [e.registration!.sectionId, e.registration!.state])).toEqual([[from.id, S.REGISTRATION_STATE_ENROLLED]]);
  });
});

describe('streams', () => {
  test('watchStudent_andWatchSection_pushChangesAsTheyHappen', async () => {
    const s = await fresh();
    const section = await w.section({ capacity: 5 });
    const md = await w.as(s);
    const studentUpdates: WatchStudentResponse[] = [];
    const seatUpdates: WatchSectionResponse[] = [];
    const st = w.client.watchStudent({ studentId: '' }, md);
    st.on('data', (d: WatchStudentResponse) => studentUpdates.push(d));
    st.on('error', () => undefined);
    const sec = w.client.watchSection({ sectionId: section.id }, md);
    sec.on('data', (d: WatchSectionResponse) => seatUpdates.push(d));
    sec.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    await register(s, section.id);
    const deadline = Date.now() + 10_000;
    while ((studentUpdates.length === 0 || seatUpdates.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    st.cancel();
    sec.cancel();
    expect(studentUpdates.map((u) => u.registration!.state)).toContain(S.REGISTRATION_STATE_ENROLLED);
    expect(seatUpdates[0].seats!.enrolledCount).toBe(0);
    expect(seatUpdates[seatUpdates.length - 1].seats!.enrolledCount).toBe(1);
  });
});

describe('queries', () => {
  test('listRegistrations_pagesAStudentsOwnRegistrations_newestFirst', async () => {
    const s = await fresh();
    const sections = [
      await w.section({ meetingTimes: meeting([TUE], '07:00', '07:50') }),
      await w.section({ meetingTimes: meeting([TUE], '08:00', '08:50') }),
      await w.section({ meetingTimes: meeting([TUE], '09:00', '09:50') }),
    ];
    for (const x of sections) await register(s, x.id);
    const md = await w.as(s);
    const first = await w.api.listRegistrations({ studentId: '', termCode: '2027SP', pageSize: 2, pageToken: '' }, md);
    expect(first.registrations.map((r) => r.sectionId)).toEqual([sections[2].id, sections[1].id]);
    const second = await w.api.listRegistrations({ studentId: '', termCode: '2027SP', pageSize: 2, pageToken: first.nextPageToken }, md);
    expect(second.registrations.map((r) => r.sectionId)).toEqual([sections[0].id]);
    expect(second.nextPageToken).toBe('');
    const other = await rpcError(w.api.listRegistrations({ studentId: s, termCode: '', pageSize: 0, pageToken: '' }, await w.as(await fresh())));
    expect(other.code).toBe(grpc.status.PERMISSION_DENIED);
    const mismatched = await rpcError(w.api.listRegistrations({ studentId: '', termCode: '', pageSize: 2, pageToken: first.nextPageToken }, md));
    expect(mismatched.fieldViolations[0].field).toBe('page_token');
  });

  test('watchRegistration_sendsCurrentStateThenEachChange', async () => {
    const s = await fresh();
    const section = await w.section({ capacity: 1, waitlistCapacity: 1 });
    const holder = await fresh();
    await register(holder, section.id);
    const md = await w.as(s);
    const r = await w.api.register({ sectionId: section.id, requestId: 'watch', studentId: '' }, md);
    await w.final(r.registration!.id);
    const seen: RegistrationState[] = [];
    const stream = w.client.watchRegistration({ id: r.registration!.id }, md);
    stream.on('data', (d: { registration?: Registration }) => seen.push(d.registration!.state));
    stream.on('error', () => undefined);
    const waitFor = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (seen.length < n && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    };
    await waitFor(1);
    await w.api.drop({ sectionId: section.id, requestId: 'watch-drop', studentId: holder }, w.registrar);
    await waitFor(2);
    stream.cancel();
    expect(seen).toEqual([S.REGISTRATION_STATE_WAITLISTED, S.REGISTRATION_STATE_ENROLLED]);
  });
});

describe('cart', () => {
  test('cart_flagsConflicts_andSubmitRegistersEachSection', async () => {
    const s = await fresh();
    const md = await w.as(s);
    const a = await w.section({ meetingTimes: meeting([MON], '18:00', '18:50') });
    const b = await w.section({ meetingTimes: meeting([MON], '18:30', '19:20') });
    const c = await w.section({ meetingTimes: meeting([TUE], '18:00', '18:50'), capacity: 0, waitlistCapacity: 0 });
    await w.api.addToCart({ sectionId: a.id, studentId: '' }, md);
    const withConflict = (await w.api.addToCart({ sectionId: b.id, studentId: '' }, md)).cart!;
    expect(withConflict.items.find((i) => i.sectionId === a.id)!.conflictingSectionIds).toEqual([b.id]);
    expect(withConflict.totalCredits).toBe(6);
    const blocked = await rpcError(w.api.submitCart({ studentId: '', requestId: 'cart-1' }, md));
    expect(blocked.code).toBe(grpc.status.INVALID_ARGUMENT);
    await w.api.removeFromCart({ sectionId: b.id, studentId: '' }, md);
    await w.api.addToCart({ sectionId: c.id, studentId: '' }, md);
    const out = await w.api.submitCart({ studentId: '', requestId: 'cart-2' }, md);
    expect(out.outcomes.map((o) => o.sectionId)).toEqual([a.id, c.id]);
    expect(out.outcomes[0].registration!.state).toBe(S.REGISTRATION_STATE_PENDING);
    expect(out.outcomes[1].errorReason).toBe('SECTION_FULL');
    expect((await w.final(out.outcomes[0].registration!.id)).state).toBe(S.REGISTRATION_STATE_ENROLLED);
    expect((await w.api.getCart({ studentId: '' }, md)).cart!.items.map((i) => i.sectionId)).toEqual([c.id]);
  });
});

describe('registrar', () => {
  test('registrar_registersOnBehalf_withOverride_andAuditNamesTheRegistrar', async () => {
    const [s, other] = [await fresh(), await fresh()];
    const section = await w.section({ capacity: 1, waitlistCapacity: 0 });
    await register(other, section.id);
    const full = await rpcError(w.api.register({ sectionId: section.id, requestId: 'x', studentId: s }, w.registrar));
    expect(full.reason).toBe('SECTION_FULL');
    const denied = await rpcError(w.api.grantCapacityOverride({ studentId: s, sectionId: section.id, reason: 'senior' }, await w.as(s)));
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
    await w.api.grantCapacityOverride({ studentId: s, sectionId: section.id, reason: 'graduating senior' }, w.registrar);
    const r = await w.api.register({ sectionId: section.id, requestId: 'ovr', studentId: s }, w.registrar);
    const final = await w.final(r.registration!.id);
    expect(final.state).toBe(S.REGISTRATION_STATE_ENROLLED);
    expect(final.reasonCode).toBe('CAPACITY_OVERRIDE');
    expect(final.requestedBy).toBe('registrar:registrar-1');
    const hist = await w.api.listAuditEvents({ subject: { $case: 'studentId', studentId: s }, pageSize: 0, pageToken: '' }, w.registrar);
    expect(hist.events.map((e) => [e.kind, e.actor])).toEqual([
      ['CAPACITY_OVERRIDE_GRANTED', 'registrar:registrar-1'],
      ['REQUESTED', 'registrar:registrar-1'],
      ['DECIDED', 'registrar:registrar-1'],
    ]);
  });

  test('sectionSnapshot_rebuildsRosterAndWaitlistAtAPastMoment', async () => {
    const section = await w.section({ capacity: 1, waitlistCapacity: 2 });
    const [a, b] = [await fresh(), await fresh()];
    await register(a, section.id);
    await register(b, section.id);
    const before = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await w.api.drop({ sectionId: section.id, requestId: 'd', studentId: a }, w.registrar);
    const past = await w.api.getSectionSnapshot({ sectionId: section.id, atTime: before }, w.registrar);
    expect(past.enrolledStudentIds).toEqual([a]);
    expect(past.waitlistedStudentIds).toEqual([b]);
    const now = await w.api.getSectionSnapshot({ sectionId: section.id, atTime: undefined }, w.registrar);
    expect(now.enrolledStudentIds).toEqual([b]);
    expect(now.waitlistedStudentIds).toEqual([]);
    expect(now.seats!.enrolledCount).toBe(1);
  });
});

