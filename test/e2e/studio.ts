/**
 * Shared steps of the studio's end-to-end tests: open the page with recorders for CSP violations,
 * dialogs and network requests, move between sections, set up a small run, take screenshots.
 */
import { expect, type Page, type TestInfo } from '@playwright/test';
import { readFileSync } from 'node:fs';

export interface Recorders {
  /** Every request the page or its worker made, by URL. */
  requests: string[];
  dialogs: string[];
  pageErrors: string[];
}

declare global {
  interface Window {
    __cspViolations: string[];
  }
}

/** Vite's client module without its server connection: modules still get a hot context, which never fires. */
const HMR_CLIENT_STUB = `
const hot = { data: {}, accept() {}, acceptExports() {}, dispose() {}, prune() {}, invalidate() {}, decline() {}, on() {}, off() {}, send() {} };
export function createHotContext() { return hot; }
export function injectQuery(url) { return url; }
export function updateStyle() {}
export function removeStyle() {}
export class ErrorOverlay {}
`;

/** Opens the studio and waits until the demo model and the demo dataset are loaded. */
export async function openStudio(page: Page): Promise<Recorders> {
  const rec: Recorders = { requests: [], dialogs: [], pageErrors: [] };
  page.on('request', (r) => rec.requests.push(r.url()));
  page.on('dialog', (d) => {
    rec.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('pageerror', (e) => rec.pageErrors.push(e.message));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  // Other engineers edit the working tree while tests run: without Vite's HMR client an edit cannot
  // reload the page in the middle of a test (the app never uses import.meta.hot).
  await page.route('**/@vite/client', (route) => route.fulfill({ contentType: 'text/javascript', body: HMR_CLIENT_STUB }));
  await page.goto('/');
  await waitForDemo(page);
  return rec;
}

export async function waitForDemo(page: Page): Promise<void> {
  const nav = page.getByRole('navigation', { name: 'Sections' });
  await expect(nav.getByRole('button', { name: /Model/ })).toContainText('Demo model', { timeout: 60_000 });
  await expect(nav.getByRole('button', { name: /Dataset/ })).toContainText(/\d+ pairs/, { timeout: 60_000 });
}

export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => window.__cspViolations);
}

/** Requests that left this machine: anything not served by the local dev server. */
export function outsideRequests(rec: Recorders, baseURL: string): string[] {
  const origin = new URL(baseURL).origin;
  return rec.requests.filter((url) => !url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:'));
}

export async function goTo(
  page: Page,
  section: 'Dataset' | 'Model' | 'Configure' | 'Train' | 'Runs' | 'Evaluate & sample' | 'Export',
): Promise<void> {
  const nav = page.getByRole('navigation', { name: 'Sections' });
  await nav.getByRole('button', { name: new RegExp(`^${section}`) }).click();
  await expect(page.getByRole('heading', { level: 2, name: section, exact: true })).toBeVisible();
}

export async function fill(page: Page, label: string, value: string): Promise<void> {
  const input = page.getByLabel(label, { exact: true });
  await input.fill(value);
  await expect(input).toHaveValue(value);
}

/** A run small enough for SwiftShader: two pairs a step, sequences cut at 48 tokens, a point and a checkpoint often. */
/** A few short steps from TRL's defaults (a first visit starts on the demo preset: left here, explicitly). */
export async function configureSmallRun(page: Page, options: { maxSteps: number; saveSteps: number; seed?: number }): Promise<void> {
  await goTo(page, 'Configure');
  const defaults = page.getByRole('button', { name: "Use TRL's defaults" });
  if (await defaults.isVisible()) await defaults.click();
  await fill(page, 'batch size', '2');
  await fill(page, 'max steps', String(options.maxSteps));
  await fill(page, 'max length', '48');
  await fill(page, 'logging steps', '1');
  await fill(page, 'checkpoint every', String(options.saveSteps));
  if (options.seed !== undefined) await fill(page, 'seed', String(options.seed));
  await expect(page.getByText('Ready to train')).toBeVisible();
}

export function trainStatus(page: Page) {
  return page.getByRole('status');
}

/** Drops a file on the dataset drop zone the way a browser delivers a drag-and-drop. */
export async function dropFile(page: Page, path: string, name: string): Promise<void> {
  const text = readFileSync(path, 'utf8');
  const dataTransfer = await page.evaluateHandle(
    ({ text, name }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], name, { type: 'application/json' }));
      return dt;
    },
    { text, name },
  );
  const zone = page.locator('.dropzone');
  await zone.dispatchEvent('dragover', { dataTransfer });
  await zone.dispatchEvent('drop', { dataTransfer });
}

/** Window sizes every screenshot is taken at: the tests' own, and a common laptop screen. */
const SCREENSHOT_SIZES = [
  { width: 1280, height: 800, suffix: '' },
  { width: 1366, height: 768, suffix: '-1366x768' },
];

/**
 * The same view in the light and the dark theme, at 1280×800 and at 1366×768, under
 * test-results/screenshots/ (<name>-<theme>.png, <name>-<theme>-1366x768.png).
 */
export async function screenshots(page: Page, name: string): Promise<void> {
  const viewport = page.viewportSize();
  for (const size of SCREENSHOT_SIZES) {
    await page.setViewportSize({ width: size.width, height: size.height });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      // Charts pick their colours from the theme, and their size from the window, on the next render.
      await page.waitForTimeout(250);
      // Transitions (button colours following the theme) are finished first.
      await page.screenshot({ path: `test-results/screenshots/${name}-${scheme}${size.suffix}.png`, animations: 'disabled' });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  if (viewport) await page.setViewportSize(viewport);
}

export async function savedDownload(page: Page, testInfo: TestInfo, click: () => Promise<void>): Promise<{ path: string; name: string }> {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  const name = download.suggestedFilename();
  const path = testInfo.outputPath(name);
  await download.saveAs(path);
  return { path, name };
}
