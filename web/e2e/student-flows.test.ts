import type { Page } from 'playwright-core';
import { invariantViolations } from '../../services/registration/test/registration.fixtures';
import { seedSmallCatalog, startE2eStack, UNNAMED_CONTROLS, type E2eStack } from './stack';

let stack: E2eStack;
let catalog: Awaited<ReturnType<typeof seedSmallCatalog>>;

beforeAll(async () => {
  stack = await startE2eStack('e2e_students');
  await stack.world.addStudents(1, 30);
  catalog = await seedSmallCatalog(stack.world, { hotCapacity: 1 });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

afterEach(async () => {
  if (!stack) return; // start-up failed; that error is the one to read
  await stack.world.settle();
  expect(await invariantViolations(stack.world.db)).toEqual([]);
});

async function signInAs(page: Page, studentId: string): Promise<void> {
  await page.goto('/');
  await page.getByTestId('student-select').selectOption(studentId);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('search-input').waitFor();
}

async function search(page: Page, text: string): Promise<void> {
  await page.getByTestId('search-input').fill(text);
  await page.getByTestId('search-submit').click();
}

const row = (page: Page, course: string, section: string) => page.locator(`[data-testid="section-row"][data-course-code="${course}"][data-section-code="${section}"]`);
const outcome = (page: Page, label: string) => page.getByTestId('outcome').filter({ hasText: label }).getByTestId('outcome-status');

test('student_findsCourseRegistersAndSeesItOnTheCalendar', async () => {
  const page = await (await stack.context()).newPage();
  await signInAs(page, 'S0001');
  await search(page, 'Programming');
  await row(page, 'CS 101', '001').waitFor();
  await stack.screenshot(page, '01-search');

  await row(page, 'CS 101', '001').getByTestId('section-details-button').click();
  await page.getByTestId('section-details').getByTestId('live-seats').waitFor();

  await row(page, 'CS 101', '001').getByTestId('register-button').click();
  await expect(outcome(page, 'CS 101 section 001')).toHaveStateEventually('enrolled');
  await stack.screenshot(page, '02-registered');

  await page.getByTestId('nav-schedule').click();
  const block = page.getByTestId('weekly-calendar').locator(`[data-testid="calendar-block"][data-item-id="${catalog.cs1.id}"]`);
  await block.first().waitFor();
  expect(await block.count()).toBe(2); // Monday and Wednesday
  await stack.screenshot(page, '03-calendar');

  // Phone width: the same schedule stays readable.
  const phone = await (await stack.context({ width: 375, height: 812 })).newPage();
  await signInAs(phone, 'S0001');
  await phone.getByTestId('nav-schedule').click();
  await phone.getByTestId('weekly-calendar').waitFor();
  const overflow = await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
  expect(overflow).toBeLessThanOrEqual(1);
  await stack.screenshot(phone, '04-schedule-phone');
});

test('twoStudents_raceForLastSeat_oneEnrolledOtherWaitlistedThenPromotedLiveOnDrop', async () => {
  const alice = await (await stack.context()).newPage();
  const bob = await (await stack.context()).newPage();
  await signInAs(alice, 'S0002');
  await signInAs(bob, 'S0003');
  for (const p of [alice, bob]) {
    await search(p, 'History');
    await row(p, 'HIST 105', '001').waitFor();
  }
  // Both press Register for the one seat at the same moment.
  await Promise.all([row(alice, 'HIST 105', '001').getByTestId('register-button').click(), row(bob, 'HIST 105', '001').getByTestId('register-button').click()]);
  const states = async () => Promise.all([alice, bob].map((p) => settledState(outcome(p, 'HIST 105 section 001'))));
  const [a, b] = await states();
  expect([a, b].sort()).toEqual(['enrolled', 'waitlisted']);
  const [winner, loser] = a === 'enrolled' ? [alice, bob] : [bob, alice];
  await stack.screenshot(loser, '05-waitlisted');

  // The winner drops; the waitlisted student is promoted and sees it without reloading.
  await winner.getByTestId('nav-schedule').click();
  const scheduleRow = winner.locator('[data-testid="schedule-row"][data-course-code="HIST 105"]');
  await scheduleRow.getByTestId('drop-button').click();
  await winner.getByTestId('confirm-drop').click();
  await winner.getByTestId('schedule-message').waitFor();

  await expect(outcome(loser, 'HIST 105 section 001')).toHaveStateEventually('enrolled');
  // The section's counts on the page follow at once, not at the next poll.
  await row(loser, 'HIST 105', '001').filter({ hasText: 'Full (1 of 1 seat taken)' }).waitFor({ timeout: 5000 });
  await stack.screenshot(loser, '06-promoted');
});

/** Waits until an outcome leaves "pending" and returns its final state. */
async function settledState(status: ReturnType<typeof outcome>): Promise<string> {
  const until = Date.now() + 20_000;
  for (;;) {
    const state = (await status.count()) > 0 ? await status.first().getAttribute('data-state') : null;
    if (state && state !== 'pending') return state;
    if (Date.now() > until) throw new Error(`outcome still ${state ?? 'absent'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      toHaveStateEventually(state: string): Promise<R>;
    }
  }
}

expect.extend({
  async toHaveStateEventually(received: ReturnType<typeof outcome>, state: string) {
    const until = Date.now() + 20_000;
    let last: string | null = null;
    while (Date.now() < until) {
      last = (await received.count()) > 0 ? await received.first().getAttribute('data-state') : null;
      if (last === state) return { pass: true, message: () => `outcome is ${state}` };
      await new Promise((r) => setTimeout(r, 100));
    }
    return { pass: false, message: () => `expected the outcome to become ${state}, last seen ${last ?? 'absent'}` };
  },
});

test('student_withKeyboard_signsInSearchesAndRegisters_andEveryControlIsNamed', async () => {
  const page = await (await stack.context()).newPage();
  await page.goto('/');
  expect(await page.evaluate<string[]>(UNNAMED_CONTROLS)).toEqual([]);
  await page.getByTestId('student-select').focus();
  await page.keyboard.press('End'); // last demo student in the list
  const chosen = await page.getByTestId('student-select').inputValue();
  await page.getByTestId('sign-in').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('search-input').waitFor();
  await page.getByTestId('search-input').focus();
  await page.keyboard.type('Programming');
  await page.keyboard.press('Enter');
  const register = row(page, 'CS 101', '002').getByTestId('register-button');
  await register.waitFor();
  await register.focus();
  await page.keyboard.press('Enter');
  await expect(outcome(page, 'CS 101 section 002')).toHaveStateEventually('enrolled');
  expect(await page.evaluate<string[]>(UNNAMED_CONTROLS)).toEqual([]);
  await page.getByTestId('nav-schedule').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('weekly-calendar').waitFor();
  expect(await page.evaluate<string[]>(UNNAMED_CONTROLS)).toEqual([]);
  expect(chosen).toMatch(/^S\d{4}$/);
});
