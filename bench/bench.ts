/** Runs every `*.bench.js` beside this file (or those named on the command line) and prints JSON. */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.includes(f.replace(/\.bench\.js$/, '')))
  .sort();
const results: Record<string, unknown> = {};
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { bench: () => Promise<Record<string, unknown>> };
  results[f.replace(/\.bench\.js$/, '')] = await mod.bench();
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
