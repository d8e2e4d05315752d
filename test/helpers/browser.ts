/**
 * A real browser for tests: Debian's Chromium driven by playwright-core (which never downloads a
 * browser of its own). Tests skip, saying why, where the package is not installed; .ci/run installs it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.METAHEAC_CHROMIUM ?? '/usr/bin/chromium';

/** false when Chromium is there, else the reason to skip. */
export const noChromium: string | false = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface OpenedPage {
  page: Page;
  /** Console errors and warnings, and uncaught exceptions. */
  problems: string[];
  /** Every URL the page asked for, the file itself included. */
  requests: string[];
  close: () => Promise<void>;
}

/** Open a local file in a fresh profile, at a laptop's viewport. */
export async function openFile(path: string, viewport = { width: 1366, height: 768 }): Promise<OpenedPage> {
  const profile = mkdtempSync(join(tmpdir(), 'mh-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
  return {
    page,
    problems,
    requests,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
