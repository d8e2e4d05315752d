/**
 * `npm run docs:screenshot`: docs/report.png, the demo's report as a laptop shows it (its
 * charts, down to the per-campaign table), from output/demo/report.html (`npm start` writes it).
 * Opens it in Debian's Chromium the way the tests do.
 */
import { existsSync } from 'node:fs';
import { noChromium, openFile } from '../test/helpers/browser.js';

const report = process.argv[2] ?? 'output/demo/report.html';
const out = process.argv[3] ?? 'docs/report.png';
if (!existsSync(report)) throw new Error(`${report} not found: run \`npm start\` first`);
if (noChromium) throw new Error(noChromium);

const { page, problems, close } = await openFile(report, { width: 1280, height: 800 });
try {
  if (problems.length) throw new Error(`${report}: ${problems.join('; ')}`);
  // from the top to the end of the per-campaign charts: what a reader sees first
  const box = await page.locator('#campaigns .row').boundingBox();
  if (!box) throw new Error(`${report}: no per-campaign charts`);
  await page.screenshot({ path: out, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(box.y + box.height + 8) } });
  process.stdout.write(`${out} written from ${report}\n`);
} finally {
  await close();
}
