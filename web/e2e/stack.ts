import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DayOfWeek } from '../../gen/coursereg/course/v1/course';
import { courseInput, sectionInput } from '../../services/course/test/course.fixtures';
import { startGatewayWorld, type GatewayWorld } from '../../services/gateway/test/gateway.fixtures';

const ROOT = join(__dirname, '..', '..');
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'e2e');

/** Builds the web client once per test file into a temporary folder the gateway serves. */
function buildWeb(): string {
  const outDir = mkdtempSync(join(tmpdir(), 'coursereg-web-e2e-'));
  const res = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'web', 'vite.config.mts'), '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`vite build failed:\n${res.stdout}\n${res.stderr}`);
  return outDir;
}

/** Debian's chromium, headless, with the flags this machine needs; never a downloaded browser. */
export function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`the end-to-end tests need Chromium at ${executablePath}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface E2eStack {
  world: GatewayWorld;
  browser: Browser;
  url: string;
  /** A fresh browser context (its own storage, like a separate person) at phone or desktop size. */
  context(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  screenshot(page: Page, name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole system for browser tests: course, student and registration services, a
 * worker, the gateway with development sign-in on, and the web client built from
 * web/, all in this test's own database, Redis prefix and vhost.
 */
export async function startE2eStack(name: string): Promise<E2eStack> {
  // The browser first: if it is missing, nothing else has been started to be left running.
  const browser = await launchChromium();
  let webDir: string | undefined;
  let world: GatewayWorld;
  try {
    webDir = buildWeb();
    world = await startGatewayWorld(name, { GATEWAY_DEV_TOKENS: 'true', WEB_DIST_DIR: webDir });
  } catch (err) {
    await browser.close().catch(() => undefined);
    if (webDir) rmSync(webDir, { recursive: true, force: true });
    throw err;
  }
  const builtDir = webDir;
  mkdirSync(ARTIFACTS, { recursive: true });
  const contexts: BrowserContext[] = [];
  return {
    world,
    browser,
    url: world.origin,
    async context(viewport = { width: 1280, height: 900 }) {
      const ctx = await browser.newContext({ viewport, baseURL: world.origin });
      contexts.push(ctx);
      return ctx;
    },
    async screenshot(page, shot) {
      await page.screenshot({ path: join(ARTIFACTS, `${shot}.png`), fullPage: true });
    },
    async stop() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await world.stopAll();
      rmSync(builtDir, { recursive: true, force: true });
    },
  };
}

/** A small catalog in 2027SP: CS 101 (two sections), MATH 221 (overlaps CS 101-001), HIST 105. */
export async function seedSmallCatalog(w: GatewayWorld, opts: { hotCapacity?: number } = {}) {
  const mk = async (code: string, title: string, credits: number) => w.catalog.createCourse({ course: courseInput(code, { title, credits, description: `${title}: an introduction.` }) }, w.registrar);
  await mk('CS 101', 'Introduction to Programming', 4);
  await mk('MATH 221', 'Calculus I', 4);
  await mk('HIST 105', 'World History', 3);
  const section = (courseCode: string, sectionCode: string, capacity: number, waitlistCapacity: number, days: DayOfWeek[], startTime: string, endTime: string) =>
    w.catalog.createSection({ section: sectionInput(courseCode, sectionCode, { capacity, waitlistCapacity, instructor: 'Grace Hopper', meetingTimes: [{ days, startTime, endTime, room: 'ENG 120' }] }) }, w.registrar);
  const MW = [DayOfWeek.DAY_OF_WEEK_MONDAY, DayOfWeek.DAY_OF_WEEK_WEDNESDAY];
  const TR = [DayOfWeek.DAY_OF_WEEK_TUESDAY, DayOfWeek.DAY_OF_WEEK_THURSDAY];
  const cs1 = (await section('CS 101', '001', 30, 5, MW, '09:00', '10:15')).section!;
  const cs2 = (await section('CS 101', '002', 30, 5, TR, '13:00', '14:15')).section!;
  const math = (await section('MATH 221', '001', 30, 5, MW, '09:30', '10:45')).section!;
  const hist = (await section('HIST 105', '001', opts.hotCapacity ?? 1, 5, TR, '10:00', '11:15')).section!;
  return { cs1, cs2, math, hist };
}

/** A page expression listing controls without an accessible name (label, aria-label, aria-labelledby, text or title). */
export const UNNAMED_CONTROLS = `[...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby') && !(el.textContent || '').trim() && !el.getAttribute('title'))
  .map((el) => el.outerHTML.slice(0, 120))`;

