/**
 * `npm run bench`: runs every bench/*.bench.js module (or those named on the command line)
 * and prints one JSON object, {name: result}, on stdout and into output/bench.json.
 * Figures are medians measured in one run; compare ratios within a run, not across machines.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gemmBackend } from '../src/kernels/native.js';
import { writeFileAtomic } from '../src/util/atomic.js';

const here = dirname(fileURLToPath(import.meta.url));
// names of benchmarks, and --key value flags passed to each (e.g. `expand --users 1000000`)
const args = process.argv.slice(2);
const only: string[] = [];
const flags: Record<string, string> = {};
for (let i = 0; i < args.length; i++) {
  if (args[i]!.startsWith('--')) flags[args[i]!.slice(2)] = args[++i] ?? '';
  else only.push(args[i]!);
}
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
const out: Record<string, unknown> = {};
for (const f of files) {
  const name = f.replace(/\.bench\.js$/, '');
  process.stderr.write(`bench ${name} ...\n`);
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { bench: (flags: Record<string, string>) => Promise<Record<string, unknown>> };
  out[name] = await mod.bench(flags);
}
const json = `${JSON.stringify({ node: process.version, gemm: gemmBackend(), date: new Date().toISOString(), results: out }, null, 2)}\n`;
process.stdout.write(json);
// npm prints its own header lines on stdout, so the clean JSON also goes to a file
const file = join(here, '..', '..', 'output', 'bench.json');
writeFileAtomic(file, json);
process.stderr.write(`written to ${file}\n`);
