import { RegistrationState } from '../../../gen/coursereg/registration/v1/registration';
import { rpcError } from '../../shared/testing/harness';
import { invariantViolations, startRegistrationWorld, type RegistrationWorld } from './registration.fixtures';

const S = RegistrationState;
let w: RegistrationWorld;

beforeAll(async () => {
  w = await startRegistrationWorld('register');
  await w.addStudents(1, 400);
}, 60_000);
afterAll(async () => w?.stop());

test('register_whenSeatFree_answersPendingThenEnrolls', async () => {
  const section = await w.section({ capacity: 2, waitlistCapacity: 1 });
  const me = await w.as('S0001');
  const res = await w.api.register({ sectionId: section.id, requestId: 'r1', studentId: '' }, me);
  expect(res.registration!.state).toBe(S.REGISTRATION_STATE_PENDING);
  const final = await w.final(res.registration!.id, me);
  expect(final.state).toBe(S.REGISTRATION_STATE_ENROLLED);
  expect(final.courseCode).toBe(section.courseCode);
  const schedule = await w.api.getSchedule({ studentId: '', termCode: '2027SP' }, me);
  expect(schedule.entries.map((e) => e.registration!.sectionId)).toEqual([section.id]);
  expect(schedule.enrolledCredits).toBe(3);
  expect(schedule.maxCredits).toBe(18);
  expect(await invariantViolations(w.db)).toEqual([]);
});

test('register_whenRepeatedWithSameRequestId_returnsOriginalRegistration', async () => {
  const section = await w.section();
  const me = await w.as('S0002');
  const first = await w.api.register({ sectionId: section.id, requestId: 'same', studentId: '' }, me);
  const again = await w.api.register({ sectionId: section.id, requestId: 'same', studentId: '' }, me);
  expect(again.registration!.id).toBe(first.registration!.id);
  await w.final(first.registration!.id, me);
  const third = await w.api.register({ sectionId: section.id, requestId: 'same', studentId: '' }, me);
  expect(third.registration!.id).toBe(first.registration!.id);
  expect(third.registration!.state).toBe(S.REGISTRATION_STATE_ENROLLED);
  const other = await rpcError(w.api.register({ sectionId: section.id, requestId: 'different', studentId: '' }, me));
  expect(other.reason).toBe('ALREADY_REGISTERED');
});

test('register_whenStudentActsForAnother_isPermissionDenied', async () => {
  const section = await w.section();
  const err = await rpcError(w.api.register({ sectionId: section.id, requestId: 'x', studentId: 'S0002' }, await w.as('S0001')));
  expect(err.code).toBe(7);
});

test('register_withBadInput_givesFieldViolations', async () => {
  const err = await rpcError(w.api.register({ sectionId: 'nope', requestId: '', studentId: '' }, await w.as('S0001')));
  expect(err.code).toBe(3);
  expect(err.fieldViolations.map((v) => v.field).sort()).toEqual(['request_id', 'section_id']);
});

test('register_whenRaceOfHundreds_fillsSeatsAndWaitlistExactly', async () => {
  const section = await w.section({ capacity: 10, waitlistCapacity: 5 });
  const ids = Array.from({ length: 300 }, (_, i) => `S${String(100 + i).padStart(4, '0')}`);
  const results = await Promise.all(
    ids.map(async (id) => {
      try {
        const r = await w.api.register({ sectionId: section.id, requestId: `race-${id}`, studentId: '' }, await w.as(id));
        return { id, registration: r.registration! };
      } catch (err) {
        return { id, error: await rpcError(Promise.reject(err)) };
      }
    }),
  );
  await w.settle();
  const accepted = results.filter((r) => r.registration);
  const rejected = results.filter((r) => r.error);
  expect(rejected.every((r) => r.error!.reason === 'SECTION_FULL')).toBe(true);
  const rows = await w.db.selectFrom('registration.registrations').select(['student_id', 'state', 'request_id']).where('section_id', '=', section.id).execute();
  expect(rows.filter((r) => r.state === 'ENROLLED')).toHaveLength(10);
  expect(rows.filter((r) => r.state === 'WAITLISTED')).toHaveLength(5);
  // Every request has exactly one final state: a row (accepted) or a SECTION_FULL answer, never both, never neither.
  expect(rows).toHaveLength(accepted.length);
  expect(accepted.length + rejected.length).toBe(300);
  const decidedRejects = rows.filter((r) => r.state === 'REJECTED');
  expect(decidedRejects.every(() => true)).toBe(true);
  expect(new Set(rows.map((r) => r.student_id)).size).toBe(rows.length);
  expect(rows.every((r) => ['ENROLLED', 'WAITLISTED', 'REJECTED'].includes(r.state))).toBe(true);
  expect(rows.filter((r) => r.state === 'REJECTED').length + 15 + rejected.length).toBe(300);
  const section2 = (await w.catalog.getSection({ id: section.id }, w.registrar)).section!;
  expect(section2.enrolledCount).toBe(10);
  expect(section2.waitlistedCount).toBe(5);
  expect(await invariantViolations(w.db)).toEqual([]);
}, 60_000);

test('getSchedule_whileRequestUndecided_listsItAsPendingWithoutCountingCredits', async () => {
  const section = await w.section();
  // Outside S0100–S0399, whom the race above may have enrolled elsewhere.
  const me = await w.as('S0099');
  const worker = w.workers.pop()!;
  await worker.stop();
  try {
    const res = await w.api.register({ sectionId: section.id, requestId: 'pending-1', studentId: '' }, me);
    const schedule = await w.api.getSchedule({ studentId: '', termCode: '2027SP' }, me);
    expect(schedule.entries.map((e) => [e.registration!.sectionId, e.registration!.state])).toEqual([[section.id, S.REGISTRATION_STATE_PENDING]]);
    expect(schedule.enrolledCredits).toBe(0);
    await w.startWorker();
    expect((await w.final(res.registration!.id, me)).state).toBe(S.REGISTRATION_STATE_ENROLLED);
  } finally {
    if (w.workers.length === 0) await w.startWorker();
  }
});
