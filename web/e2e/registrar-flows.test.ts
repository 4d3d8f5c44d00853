import { ListSectionsRequest } from '../../gen/coursereg/course/v1/course_service';
import { seedSmallCatalog, startE2eStack, UNNAMED_CONTROLS, type E2eStack } from './stack';

let stack: E2eStack;

beforeAll(async () => {
  stack = await startE2eStack('e2e_registrar');
  await stack.world.addStudents(1, 5);
  await seedSmallCatalog(stack.world);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

test('registrar_createsSection_studentsThenSeeIt', async () => {
  const registrar = await (await stack.context()).newPage();
  await registrar.goto('/');
  await registrar.getByRole('radio', { name: 'Registrar' }).check();
  await registrar.getByTestId('sign-in').click();
  await registrar.getByTestId('nav-sections').click();
  await registrar.getByTestId('new-section').click();
  const form = registrar.getByTestId('section-form');
  await form.getByLabel('Course code').fill('MATH 221');
  await form.getByLabel('Section code').fill('007');
  await form.getByLabel('Instructor').fill('Emmy Noether');
  await form.getByLabel('Capacity', { exact: true }).fill('24');
  await form.getByLabel('Meeting 1 on Tuesday').check();
  await form.getByLabel('Meeting 1 on Thursday').check();
  await form.getByLabel('Start').first().fill('15:00');
  await form.getByLabel('End').first().fill('16:15');
  await stack.screenshot(registrar, '07-registrar-new-section');
  await registrar.getByTestId('save-section').click();
  await registrar.getByTestId('section-admin').waitFor();
  expect(await registrar.evaluate<string[]>(UNNAMED_CONTROLS)).toEqual([]);
  await stack.screenshot(registrar, '08-registrar-section-admin');

  // The section exists in the catalog service, as the registrar entered it.
  const { sections } = await stack.world.catalog.listSections(ListSectionsRequest.fromPartial({ termCode: '2027SP', courseCode: 'MATH 221', pageSize: 50 }), stack.world.registrar);
  const created = sections.find((s) => s.sectionCode === '007');
  expect(created).toMatchObject({ capacity: 24, instructor: 'Emmy Noether' });

  // A student searching the catalog sees it.
  const student = await (await stack.context()).newPage();
  await student.goto('/');
  await student.getByTestId('student-select').selectOption('S0004');
  await student.getByTestId('sign-in').click();
  await student.getByTestId('search-input').fill('Calculus');
  await student.getByTestId('search-submit').click();
  const row = student.locator('[data-testid="section-row"][data-course-code="MATH 221"][data-section-code="007"]');
  await row.waitFor();
  expect(await row.textContent()).toContain('Emmy Noether');
  expect(await row.getAttribute('data-section-id')).toBe(created!.id);
  await stack.screenshot(student, '09-student-sees-new-section');
});
