/**
 * ENOSPC and EACCES, for real, on every class of writer: training (checkpoints, run record),
 * infer (metrics), prepare / synth / import-pkl (datasets), expand (audiences), predict
 * (scores), export-onnx, report and generate-raw. Each case first writes its outputs successfully, then runs again where writing
 * fails: on a full tmpfs (ENOSPC), or where the user may not write (EACCES: the CLI runs as
 * `nobody` when the test runs as root, since root bypasses permissions; as the test's own
 * user on a read-only folder otherwise). Every run must end in one line naming a path under
 * the output and the error code, exit 1, leave no temporary file, and leave the previous
 * outputs byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthesize } from '../src/data/synth.js';
import { generateRaw, shapeAtScale } from '../src/raw/generate.js';
import { MAIN, runCli } from './helpers/cli.js';
import { leftovers, snapshot } from './helpers/outputs.js';
import { fixture } from './helpers/pickles.js';

const o = (...kv: string[]): string[] => ['-o', ...kv];

interface Inputs {
  data: string;
  raw: string;
  campaign: string;
}

/** One writer: the command (writing under `out`) and the paths under `out` it writes. */
interface Case {
  name: string;
  args: (inp: Inputs, out: string) => string[];
}

const modelArgs = (inp: Inputs, m: string): string[] =>
  o(
    `runner.train_data_dir=${inp.data}`,
    `runner.test_data_dir=${inp.data}`,
    `runner.model_save_path=${m}`,
    'runner.epochs=1',
    'runner.infer_train_epoch=1',
    'hyper_parameters.embed_dim=4',
    'hyper_parameters.mlp_dims=[6]',
    'hyper_parameters.num_expert=2',
    'hyper_parameters.num_output=2',
    'hyper_parameters.batch_size=16',
    'hyper_parameters.task_count=3',
  );

// Each writes into its own folder under `out`; train's model folder is also what infer,
// expand and predict read (copied in with the other outputs, so reading it always works).
const CASES: Case[] = [
  { name: 'train (checkpoint, run record)', args: (inp, out) => ['train', ...modelArgs(inp, join(out, 'm')), '--threads', '1'] },
  { name: 'infer (metrics)', args: (inp, out) => ['infer', ...modelArgs(inp, join(out, 'm')), '--threads', '1'] },
  { name: 'prepare (dataset)', args: (inp, out) => ['prepare', '--raw', inp.raw, '--out', join(out, 'prepared'), '--cold-threshold', '20'] },
  { name: 'synth (dataset)', args: (_inp, out) => ['synth', '--out', join(out, 'synth'), '--preset', 'tiny'] },
  { name: 'import-pkl (dataset)', args: (_inp, out) => ['import-pkl', fixture('proto5_numpy2'), '--out', join(out, 'imported')] },
  {
    name: 'expand (audience)',
    args: (inp, out) => ['expand', ...modelArgs(inp, join(out, 'm')), '--campaign', inp.campaign, '--top', '5', '--out', join(out, 'audience'), '--threads', '1'],
  },
  { name: 'predict (scores)', args: (inp, out) => ['predict', '--model', join(out, 'm', '0', 'model.safetensors'), '--data', join(inp.data, 'test_hot_stage2.arrow'), '--out', join(out, 'scores.csv'), '--threads', '1'] },
  { name: 'export-onnx (model)', args: (_inp, out) => ['export-onnx', '--model', join(out, 'm', '0', 'model.safetensors'), '--out', join(out, 'model.onnx')] },
  { name: 'report (HTML)', args: (_inp, out) => ['report', join(out, 'm'), '--out', join(out, 'report.html')] },
  { name: 'generate-raw (raw files)', args: (_inp, out) => ['generate-raw', '--out', join(out, 'raw'), '--scale', '0.0002'] },
];

const root = mkdtempSync(join(tmpdir(), 'mh-fs-'));
const tmpfs = join(root, 'full');
let mounted = false;
process.on('exit', () => {
  if (mounted) spawnSync('umount', [tmpfs]);
  rmSync(root, { recursive: true, force: true });
});
// others (the unprivileged user) must reach the inputs
chmodSync(root, 0o755);
const data = join(root, 'data');
await synthesize({ out: data, preset: 'tiny', seed: 1 });
const campaign = join(data, 'campaigns', readdirSync(join(data, 'campaigns')).find((f) => f.startsWith('hot_') && f.endsWith('.yaml'))!);
const inputs: Inputs = { data, raw: join(root, 'raw'), campaign };
generateRaw(inputs.raw, shapeAtScale(0.0005), 1);
// the outputs every case starts from, written once and copied where each test needs them
const good = join(root, 'good');
mkdirSync(good);
for (const c of CASES) {
  const r = runCli(...c.args(inputs, good));
  assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Run every case against `out` (holding copies of the good outputs) and check the failure. */
function failEach(out: string, code: 'ENOSPC' | 'EACCES', spawnOpts: { uid?: number; gid?: number } = {}): void {
  const before = snapshot(out);
  for (const c of CASES) {
    const r = spawnSync(process.execPath, [MAIN, ...c.args(inputs, out)], { encoding: 'utf8', ...spawnOpts });
    assert.equal(r.status, 1, `${c.name}: exit ${r.status}\n${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    const last = lines.at(-1)!;
    assert.match(last, new RegExp(`^metaheac: error: \\S*${escape(out)}\\S*: cannot .*\\b${code}\\b`), `${c.name}: ${r.stderr}`);
    assert.equal(lines.filter((l) => l.startsWith('metaheac:')).length, 1, `${c.name}: one error line\n${r.stderr}`);
    assert.ok(!/^\s+at /m.test(r.stderr), `${c.name}: no stack trace\n${r.stderr}`);
    assert.deepEqual(leftovers(out), [], `${c.name}: temporary files left`);
    assert.deepEqual(snapshot(out), before, `${c.name}: the previous outputs changed`);
  }
}

/** A tmpfs of `mib` MiB at `dir`, or why there cannot be one here. */
function mountTmpfs(dir: string, mib: number): string | null {
  mkdirSync(dir);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.error) return `mount: ${r.error.message}`;
  return r.status === 0 ? null : `mounting a tmpfs is not allowed here (${r.stderr.trim() || `exit ${r.status}`})`;
}

/** Fill the file system holding `dir` with one file, until writing fails with ENOSPC. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(1 << 16);
  try {
    for (;;) writeSync(fd, block);
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  // a smaller block fits what the last 64 KiB left
  const fd2 = openSync(path, 'a');
  try {
    for (;;) writeSync(fd2, block, 0, 512);
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd2);
  }
}

const noTmpfs = process.getuid?.() === 0 ? mountTmpfs(tmpfs, 16) : 'mounting a tmpfs needs root';
mounted = noTmpfs === null;

test('ENOSPC: every writer on a full disk ends in one line naming the path, exit 1, nothing half-written, the previous outputs kept', { skip: noTmpfs ?? false }, () => {
  const out = join(tmpfs, 'out');
  cpSync(good, out, { recursive: true });
  fill(join(tmpfs, 'filler'));
  try {
    failEach(out, 'ENOSPC');
  } finally {
    rmSync(join(tmpfs, 'filler'));
  }
});

const NOBODY = 65534;
/** How this test can be denied writing: as `nobody` when root (who bypasses permissions), else as itself. */
function deniedAs(): { opts: { uid?: number; gid?: number }; skip: string | false } {
  if (process.getuid?.() !== 0) return { opts: {}, skip: process.platform === 'win32' ? 'POSIX permissions only' : false };
  const probe = spawnSync(process.execPath, [MAIN, '--version'], { encoding: 'utf8', uid: NOBODY, gid: NOBODY });
  if (probe.status !== 0) return { opts: {}, skip: `the unprivileged user ${NOBODY} cannot run the built CLI here (${(probe.error?.message ?? probe.stderr).trim().split('\n')[0]})` };
  return { opts: { uid: NOBODY, gid: NOBODY }, skip: false };
}
const denied = deniedAs();

test('EACCES: every writer where it may not write ends in one line naming the path, exit 1, nothing written, the previous outputs kept', { skip: denied.skip }, () => {
  const out = join(root, 'readonly');
  cpSync(good, out, { recursive: true });
  // folders readable and enterable, not writable by the user the CLI runs as
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) if (statSync(join(dir, e)).isDirectory()) walk(join(dir, e));
    chmodSync(dir, denied.opts.uid === undefined ? 0o555 : 0o755);
  };
  walk(out);
  chmodSync(root, denied.opts.uid === undefined ? 0o555 : 0o755);
  try {
    failEach(out, 'EACCES', denied.opts);
  } finally {
    chmodSync(root, 0o755);
    const unlock = (dir: string): void => {
      chmodSync(dir, 0o755);
      for (const e of readdirSync(dir)) if (statSync(join(dir, e)).isDirectory()) unlock(join(dir, e));
    };
    unlock(out);
  }
});
