/**
 * The fuzz property of one reader, run by fuzz.ts in a child process with a capped address
 * space: `node fuzz-child.js READER RUNS SEED FIXTURE...`. Exits 0 when every mutated file
 * either loaded or failed with a one-line UserError; otherwise prints fast-check's
 * counterexample and exits 1.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { readPart } from '../../src/data/arrow-part.js';
import { readPicklePart } from '../../src/data/importers/pickle-part.js';
import { loadCheckpoint } from '../../src/model/checkpoint.js';
import { buildLayout } from '../../src/model/layout.js';
import { JsOps } from '../../src/model/ops.js';
import { allocParams } from '../../src/model/params.js';
import { UserError } from '../../src/util/errors.js';
import { applyMutation, mutations } from './fuzz.js';
import { TINY_SCHEMA } from './tiny.js';

/** Read one file; return the rows (or weights) it gave, which must be backed by its bytes. */
const READERS: Record<string, (path: string) => Promise<number>> = {
  arrow: async (path) => (await readPart(path, TINY_SCHEMA)).nRows,
  pickle: async (path) => readPicklePart(path).data.nRows,
  checkpoint: async (path) => {
    const L = buildLayout(TINY_SCHEMA, { embedDim: 4, mlpDims: [6, 5], numExpert: 3, numOutput: 2 });
    loadCheckpoint(path, allocParams(L, new JsOps(Float32Array)));
    return 0;
  },
};

async function main(): Promise<void> {
  const [reader, runs, seed, ...fixtures] = process.argv.slice(2);
  const read = READERS[reader!];
  if (!read) throw new Error(`no reader "${reader}"`);
  const dir = mkdtempSync(join(tmpdir(), 'mh-fuzz-'));
  let loaded = 0;
  let refused = 0;
  try {
    for (const [k, fixture] of fixtures.entries()) {
      const good = readFileSync(fixture);
      const path = join(dir, `${k}-${fixture.split('/').pop()}`);
      await fc.assert(
        fc.asyncProperty(mutations(good.length, [0, Math.min(good.length, 4096)]), async (mutate) => {
          writeFileSync(path, applyMutation(mutate, good));
          try {
            const rows = await read(path);
            if (rows > statSync(path).size) throw new Error(`${rows} rows from a file of ${statSync(path).size} bytes`);
            loaded++;
          } catch (e) {
            if (!(e instanceof UserError) || e.message.includes('\n') || !e.message.startsWith(path)) {
              throw new Error(`${fixture}: ${e instanceof Error ? `${e.constructor.name}: ${e.stack}` : String(e)}`);
            }
            refused++;
          }
        }),
        { numRuns: Number(runs), seed: Number(seed) + k },
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ loaded, refused, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
}

// `node --test dist/test/` also loads this file, without arguments: then it does nothing.
if (process.argv.length > 2) {
  main().catch((e: unknown) => {
    const cause = e instanceof Error && e.cause instanceof Error ? `\ncaused by: ${e.cause.message}` : '';
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}${cause}\n`);
    process.exit(1);
  });
}
