/**
 * One run at a time per output folder: a second train into a model folder, or expand into an
 * --out, is refused naming the holder's pid; the lock goes with its run (normal end, SIGINT)
 * and a dead holder's lock is taken over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MAIN, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';
import { interruptWhen } from './helpers/outputs.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

const o = (...kv: string[]): string[] => ['-o', ...kv];
const holder = (pid: number): string => JSON.stringify({ pid, host: hostname(), since: '2024-01-01T00:00:00.000Z' });

test('a second train into a running train\'s model folder is refused naming its pid; SIGINT releases the lock', async (t) => {
  const data = await tinyDataset();
  const root = tempDir(t);
  const m = join(root, 'm');
  const args = ['train', ...o(...tinyOverrides(data, m), 'runner.epochs=1000'), '--threads', '1'];
  let second: ReturnType<typeof runCli> | null = null;
  let holderPid = 0;
  const r = await interruptWhen(args, (pid) => {
    if (!existsSync(join(m, '0', 'model.safetensors'))) return false;
    holderPid = pid;
    // bounded: without the lock the second run would train its 1000 epochs
    const c = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    second = { code: c.status, stdout: c.stdout, stderr: c.stderr };
    return true;
  }, 'SIGINT');
  assert.equal(r.code, 130, r.stderr);
  const s = second as ReturnType<typeof runCli> | null;
  assert.equal(s?.code, 1);
  assert.match(s!.stderr, new RegExp(`^metaheac: error: ${m}: another train run is writing there \\(pid ${holderPid} on .*\\); wait for it to end, or remove .*\\.m\\.lock if that process is gone\\n$`));
  assert.deepEqual(readdirSync(root), ['m'], 'the lock is gone with its run');
});

test('expand refuses an --out another live run holds; a dead holder\'s lock is taken over and removed at the end', async (t) => {
  const data = await tinyDataset();
  const root = tempDir(t);
  const out = join(root, 'out');
  const lock = join(root, '.out.lock');
  writeFileSync(lock, holder(process.pid));
  const e = runCli('expand', '--campaign', join(root, 'none.yaml'), '--out', out);
  assert.equal(e.code, 1);
  assert.match(e.stderr, new RegExp(`another expand or merge run is writing there \\(pid ${process.pid} on `));
  // a process that has ended
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(join(root, '.m.lock'), holder(Number(dead.stdout)));
  const tr = runCli('train', ...o(...tinyOverrides(data, join(root, 'm')), 'runner.epochs=1'), '--threads', '1');
  assert.equal(tr.code, 0, tr.stderr);
  assert.ok(!existsSync(join(root, '.m.lock')));
  assert.ok(existsSync(lock), 'the live holder\'s lock is left alone');
});
