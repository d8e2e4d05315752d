/**
 * Runs every `*.bench.js` beside this file (or those whose name contains an argument) and
 * prints their results as one JSON object keyed by benchmark name.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const out: Record<string, unknown> = {};
for (const file of readdirSync(dir).filter((f) => f.endsWith('.bench.js')).sort()) {
  const name = file.slice(0, -'.bench.js'.length);
  if (filters.length > 0 && !filters.some((f) => name.includes(f))) continue;
  const mod = (await import(new URL(file, import.meta.url).href)) as { bench(): Promise<Record<string, unknown>> };
  out[name] = await mod.bench();
}
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
