/**
 * SIGINT / SIGTERM during `prepare` and `import-pkl`, the two commands that read large
 * inputs: the real CLI on inputs large enough to still be running, signalled once its
 * temporary folder exists (never after a fixed sleep). Each must exit 128 + the signal with
 * one line, remove its temporary folder and leave the previous dataset byte for byte.
 * Without the readers yielding to the event loop, the handler would only run after the new
 * dataset had been swapped in, and the snapshot comparison fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { unpickleFile, unpickleFilePausing } from '../src/data/importers/pickle/unpickler.js';
import { PyList } from '../src/data/importers/pickle/list.js';
import { synthesize } from '../src/data/synth.js';
import { generateRaw, shapeAtScale } from '../src/raw/generate.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';
import { interruptWhen, snapshot, type Interrupted } from './helpers/outputs.js';
import { fixture, op, writePickle } from './helpers/pickles.js';

const line = (sig: string): string => `metaheac: interrupted (${sig}): temporary files removed; completed outputs kept\n`;

/** The temporary folder DatasetTarget makes for `out` in `root` (`.NAME.tmp-PID`). */
const tmpOf = (root: string, name: string, pid: number): string => join(root, `.${name}.tmp-${pid}`);
const has = (dir: string, pred: (f: string) => boolean): boolean => {
  try {
    return readdirSync(dir).some(pred);
  } catch {
    return false;
  }
};

function interrupted(r: Interrupted, sig: 'SIGINT' | 'SIGTERM', t: { diagnostic: (s: string) => void }): void {
  assert.ok(r.signalled, `the run ended (exit ${r.code}) before the signal could be sent: ${r.stderr}`);
  assert.equal(r.code, sig === 'SIGINT' ? 130 : 143, r.stderr);
  assert.equal(r.stderr, line(sig));
  t.diagnostic(`${sig}: exit ${Math.round(r.latencyMs)} ms after the signal`);
}

test('prepare: SIGINT while reading and SIGTERM while writing keep the previous dataset and remove the temporary folder', async (t) => {
  const root = tempDir(t);
  const ds = join(root, 'ds');
  await synthesize({ out: ds, preset: 'tiny', seed: 1 });
  const before = snapshot(ds);
  const raw = join(root, 'raw');
  // about 50 MB of userFeature.data: a second or more of reading, written twice (parts, user table)
  generateRaw(raw, shapeAtScale(0.01), 1);
  const args = ['prepare', '--raw', raw, '--out', ds];

  // as soon as the temporary folder exists: the raw files are being read
  const a = await interruptWhen(args, (pid) => has(root, (f) => f === `.ds.tmp-${pid}`), 'SIGINT');
  interrupted(a, 'SIGINT', t);
  assert.deepEqual(snapshot(ds), before);
  assert.deepEqual(readdirSync(root).sort(), ['ds', 'raw']);

  // once a part is being written into it
  const b = await interruptWhen(args, (pid) => has(tmpOf(root, 'ds', pid), (f) => f.includes('.arrow')), 'SIGTERM');
  interrupted(b, 'SIGTERM', t);
  assert.deepEqual(snapshot(ds), before);
  assert.deepEqual(readdirSync(root).sort(), ['ds', 'raw']);

  // the same input, not interrupted, does replace it
  const ok = runCli('prepare', '--raw', raw, '--out', ds, '--json');
  assert.equal(ok.code, 0, ok.stderr);
  assert.notDeepEqual(snapshot(ds), before);
});

test('import-pkl: SIGINT and SIGTERM in the middle of a folder of pickles keep the previous dataset and remove the temporary folder', async (t) => {
  const root = tempDir(t);
  const ds = join(root, 'ds');
  const src = join(root, 'pickles');
  mkdirSync(src);
  // a folder of 150 pickles: several seconds of decoding and writing parts
  for (let i = 0; i < 150; i++) copyFileSync(fixture('proto5_numpy2'), join(src, `p${String(i).padStart(3, '0')}.pkl`));
  const first = runCli('import-pkl', join(src, 'p000.pkl'), '--out', ds);
  assert.equal(first.code, 0, first.stderr);
  const before = snapshot(ds);
  const args = ['import-pkl', src, '--out', ds];
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // once a few parts are in the temporary folder
    const r = await interruptWhen(args, (pid) => readdirSafe(tmpOf(root, 'ds', pid)).filter((f) => f.endsWith('.arrow')).length >= 3, sig);
    interrupted(r, sig, t);
    assert.deepEqual(snapshot(ds), before);
    assert.deepEqual(readdirSync(root).sort(), ['ds', 'pickles']);
  }
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

test('the pickle decoder pauses every 65535 opcodes and gives the same value as without pauses', async (t) => {
  const dir = tempDir(t);
  // a list of 200,000 small ints: MARK, 200,000 BININT1, APPENDS
  const n = 200_000;
  const items = Buffer.alloc(2 * n);
  for (let i = 0; i < n; i++) items.set(op.int1(i & 0xff), 2 * i);
  const head = Buffer.from([...op.proto(4), ...op.emptyList(), ...op.mark()]);
  const path = writePickle(dir, 'long.pkl', Buffer.concat([head, items, Buffer.from([...op.appends(), ...op.stop()])]));
  let pauses = 0;
  const paused = await unpickleFilePausing(path, async () => {
    pauses++;
    await new Promise((r) => setImmediate(r));
  });
  // n + 5 opcodes, 65535 a slice
  assert.equal(pauses, Math.ceil((n + 5) / 65535) - 1);
  assert.ok(paused instanceof PyList);
  assert.deepEqual((paused as PyList).toArray(), (unpickleFile(path) as PyList).toArray());
  // errors are the same DataErrors, naming the file and the byte
  const bad = writePickle(dir, 'bad.pkl', Buffer.concat([head, items]));
  await assert.rejects(unpickleFilePausing(bad, async () => {}), /bad\.pkl: truncated pickle/);
});
