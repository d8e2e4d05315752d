import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig, parseOverride, ignoredKeys } from '../src/config/config.js';
import { ConfigError } from '../src/util/errors.js';
import { TENCENT_SCHEMA, maxIdxs, maxIdxsMismatch } from '../src/data/schema.js';

const PADDLE_BIG = `
runner:
  train_data_dir: "../../../../data/data137870/Lookalike_data/train"
  train_reader_path: "reader_train" # importlib format
  use_gpu: True
  use_auc: True
  epochs: 1
  print_interval: 100
  model_save_path: "output_model_esmm"
  test_data_dir: "../../../../data/data137870/Lookalike_data/infer_cold"
  infer_reader_path: "reader_infer" # importlib format
  infer_load_path: "output_model_esmm"
  infer_start_epoch: 0
  infer_end_epoch: 1
  use_inference: False
  infer_train_epoch: 2

hyper_parameters:
  max_idxs: [[3, 2, 855, 5, 7, 2, 1], [124, 82, 12, 263312, 49780, 10002, 9984], [78, 137, 14, 39,32,3]]
  embed_dim: 64
  mlp_dims: [64, 64]
  local_lr: 0.0002
  num_expert: 8
  num_output: 5
  task_count: 5
  batch_size: 1024

  optimizer:
    class: adam
    global_learning_rate: 0.001
    local_test_learning_rate: 0.001
    strategy: async
`;

function tmpFile(name: string, text: string): string {
  const d = mkdtempSync(join(tmpdir(), 'mh-cfg-'));
  const p = join(d, name);
  writeFileSync(p, text);
  return p;
}

test('PaddleRec full-data config loads unchanged; paddle-only keys are reported as ignored', () => {
  const p = tmpFile('config_big.yaml', PADDLE_BIG);
  const c = loadConfig(p);
  assert.equal(c.hyper_parameters.batch_size, 1024);
  assert.deepEqual(c.hyper_parameters.max_idxs, maxIdxs(TENCENT_SCHEMA));
  assert.equal(maxIdxsMismatch(TENCENT_SCHEMA, c.hyper_parameters.max_idxs!), null);
  assert.equal(c.hyper_parameters.optimizer.local_test_learning_rate, 0.001);
  assert.equal(c.runner.infer_train_epoch, 2);
  // paths resolve against the config file's folder
  assert.ok(c.runner.model_save_path.endsWith('/output_model_esmm'));
  assert.ok(c.runner.model_save_path.startsWith('/'));
  assert.ok(ignoredKeys(c).includes('runner.use_gpu'));
  assert.ok(ignoredKeys(c).includes('hyper_parameters.optimizer.strategy'));
});

test('defaults fill an empty config', () => {
  const c = parseConfig({});
  assert.equal(c.hyper_parameters.embed_dim, 64);
  assert.deepEqual(c.hyper_parameters.mlp_dims, [64, 64]);
  assert.equal(c.hyper_parameters.local_lr, 0.0002);
  assert.equal(c.hyper_parameters.optimizer.global_learning_rate, 0.001);
  assert.equal(c.hyper_parameters.task_sampling, 'normal');
  assert.equal(c.hyper_parameters.meta, true);
  assert.equal(c.runner.seed, 2021);
});

test('unknown key names the key and suggests the nearest one', () => {
  assert.throws(
    () => parseConfig({ hyper_parameters: { embed_dimm: 32 } }, 'x.yaml'),
    (e: Error) => e instanceof ConfigError && /hyper_parameters\.embed_dimm/.test(e.message) && /did you mean "hyper_parameters\.embed_dim"/.test(e.message),
  );
  assert.throws(
    () => parseConfig({ runner: { epoch: 3 } }),
    (e: Error) => /runner\.epoch".*did you mean "runner\.epochs"/.test(e.message),
  );
});

test('wrong type names the key and what was expected', () => {
  assert.throws(
    () => parseConfig({ hyper_parameters: { batch_size: 'big' } }, 'c.yaml'),
    (e: Error) => e instanceof ConfigError && /c\.yaml: key "hyper_parameters\.batch_size"/.test(e.message) && /number/.test(e.message),
  );
  assert.throws(() => parseConfig({ hyper_parameters: { mlp_dims: [64, -1] } }), /hyper_parameters\.mlp_dims\.1/);
  assert.throws(() => parseConfig({ hyper_parameters: { task_sampling: 'uniform' } }), /task_sampling.*"normal"\|"sqrt"\|"unit"|task_sampling/);
});

test('-o overrides set dotted keys with YAML-typed values, paths against the working directory', () => {
  const p = tmpFile('c.yaml', PADDLE_BIG);
  const c = loadConfig(p, [
    'runner.epochs=3',
    'hyper_parameters.mlp_dims=[32, 16]',
    'hyper_parameters.optimizer.global_learning_rate=0.01',
    'runner.model_save_path=out/m',
    'runner.test_data_dir=[a, b]',
  ]);
  assert.equal(c.runner.epochs, 3);
  assert.deepEqual(c.hyper_parameters.mlp_dims, [32, 16]);
  assert.equal(c.hyper_parameters.optimizer.global_learning_rate, 0.01);
  assert.equal(c.runner.model_save_path, join(process.cwd(), 'out/m'));
  assert.deepEqual(c.runner.test_data_dir, [join(process.cwd(), 'a'), join(process.cwd(), 'b')]);
  assert.throws(() => loadConfig(p, ['runner.epochs']), /expected key=value/);
  assert.throws(() => loadConfig(p, ['runner.epochz=2']), /did you mean "runner\.epochs"/);
  assert.deepEqual(parseOverride('runner.train_data_dir=data/x'), { key: 'runner.train_data_dir', value: 'data/x' });
});

test('bad YAML and missing files say which file', () => {
  assert.throws(() => loadConfig('/nonexistent/c.yaml'), /\/nonexistent\/c\.yaml: cannot read config/);
  const p = tmpFile('bad.yaml', 'runner:\n  epochs: [1,\n');
  assert.throws(() => loadConfig(p), /bad\.yaml.*invalid YAML/);
});

test('max_idxs mismatch names the field', () => {
  const m = maxIdxs(TENCENT_SCHEMA);
  m[1]![3] = 5;
  assert.match(maxIdxsMismatch(TENCENT_SCHEMA, m)!, /max_idxs\[1\]\[3\] \(kw1\) is 5, the dataset schema says 263312/);
});
