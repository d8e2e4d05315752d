/**
 * `npm run docs:screenshot`: docs/report.png, the demo's report as a laptop shows it (its
 * charts, down to the per-campaign table), from output/demo/report.html (`npm start` writes it).
 * Uses Debian's Chromium through playwright-core, like the tests.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const report = process.argv[2] ?? 'output/demo/report.html';
const out = process.argv[3] ?? 'docs/report.png';
const browser = process.env.METAHEAC_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(report)) throw new Error(`${report} not found: run \`npm start\` first`);
if (!existsSync(browser)) throw new Error(`no Chromium at ${browser} (apt-get install chromium)`);

const profile = mkdtempSync(join(tmpdir(), 'mh-shot-'));
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const context = await chromium.launchPersistentContext(profile, { executablePath: browser, headless: true, args, viewport: { width: 1280, height: 800 } });
try {
  const page = await context.newPage();
  await page.goto(pathToFileURL(report).href, { waitUntil: 'load' });
  // from the top to the end of the per-campaign charts: what a reader sees first
  const box = await page.locator('#campaigns .row').boundingBox();
  if (!box) throw new Error(`${report}: no per-campaign charts`);
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(box.y + box.height + 8) } });
  process.stdout.write(`${out} written from ${report}\n`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
