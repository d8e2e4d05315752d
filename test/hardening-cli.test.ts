/**
 * Hardening of the command line: -o keys that reach an object's prototype, PaddleRec's `-o k1=v1 k2=v2`
 * and generic runner keys, --version, the progress bar's first frame.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ignoredKeys, loadConfig } from '../src/config/config.js';
import { ConfigError } from '../src/util/errors.js';
import { progressBar, setProgressQuiet } from '../src/cli/progress.js';
import { runCli } from './helpers/cli.js';
import { REPO } from './helpers/pickles.js';

test('-o keys that reach a prototype are refused, in the key or inside a YAML value, and nothing is polluted', () => {
  for (const o of ['__proto__.polluted=1', 'runner.__proto__.polluted=1', 'constructor.prototype.polluted=1', 'runner.prototype=1', 'runner={__proto__: {polluted: 1}}', 'hyper_parameters={a: {constructor: 1}}']) {
    assert.throws(() => loadConfig(null, [o]), (e: unknown) => e instanceof ConfigError && /key "(__proto__|constructor|prototype)" is not allowed/.test(e.message), o);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.throws(() => loadConfig(null, ['runner..epochs=2']), /empty key segment/);
  // the next config is not affected by the refused ones
  assert.equal(loadConfig(null, ['runner.epochs=3']).runner.epochs, 3);
});

test('PaddleRec conventions: several pairs after one -o, generic runner keys ignored with the note', () => {
  const r = runCli('train', '-o', 'runner.train_data_dir=/nonexistent/x', 'runner.use_visual=False', 'runner.use_fleet=false', '-o', 'runner.use_xpu=False', 'runner.use_npu=0');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^note: ignoring PaddlePaddle-only keys: .*runner\.use_xpu.*\n/);
  for (const k of ['use_visual', 'use_fleet', 'use_xpu', 'use_npu']) assert.match(r.stderr, new RegExp(`runner\\.${k}`));
  assert.match(r.stderr, /\/nonexistent\/x: no such file or directory/);
  const c = loadConfig(null, ['runner.use_visual=True', 'runner.auc_num=1', 'runner.reader_type=QueueDataset', 'runner.save_checkpoint_interval=1']);
  assert.deepEqual(ignoredKeys(c).sort(), ['runner.auc_num', 'runner.reader_type', 'runner.save_checkpoint_interval', 'runner.use_visual']);
  const bad = runCli('train', '-o', '__proto__.x=1');
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'metaheac: error: override "__proto__.x=1": key "__proto__" is not allowed\n');
});

test('--version prints package.json\'s version on stdout, then which gemm runs', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = runCli(flag);
    assert.equal(r.code, 0);
    const [version, gemm, ...rest] = r.stdout.split('\n');
    assert.equal(version, pkg.version);
    assert.match(gemm!, /^gemm: (native-avx512|native-avx2|wasm \(native kernels .+\))$/);
    assert.deepEqual(rest, ['']);
  }
});

test('the progress bar\'s first frame on a terminal shows no {token}', (t) => {
  const chunks: string[] = [];
  const write = process.stderr.write;
  const tty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
  t.after(() => {
    process.stderr.write = write;
    if (tty) Object.defineProperty(process.stderr, 'isTTY', tty);
    else delete (process.stderr as { isTTY?: boolean }).isTTY;
  });
  setProgressQuiet(false);
  Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
  process.stderr.write = ((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  }) as typeof process.stderr.write;
  const bar = progressBar('epoch 0', 10, ' | loss {loss} | {tps} tasks/s');
  bar.update(1, { loss: '0.5000', tps: 3 });
  bar.stop();
  process.stderr.write = write;
  const frames = chunks.filter((c) => c.startsWith('epoch 0'));
  assert.ok(frames.length >= 2, JSON.stringify(chunks));
  for (const f of frames) assert.doesNotMatch(f, /\{\w+\}/, f);
  assert.match(frames[0]!, /loss - \| - tasks\/s/);
  assert.match(frames.at(-1)!, /loss 0\.5000 \| 3 tasks\/s/);
});
