/**
 * The package's own configs used from an installed package (`-m node_modules/metaheac/configs/
 * demo.yaml`): their relative paths resolve against their folder, as README says, so the
 * dataset a user made in the working directory is not found there. The error must say where
 * the path led and how to point it elsewhere, not that the key is unset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';
import { REPO } from './helpers/pickles.js';
import { tinyDataset } from './helpers/tiny-dataset.js';

test('expand -m with an installed package\'s config names where runner.train_data_dir led; -o points it at the working directory', async (t) => {
  const cwd = tempDir(t);
  const pkgConfigs = join(cwd, 'node_modules', 'metaheac', 'configs');
  mkdirSync(pkgConfigs, { recursive: true });
  cpSync(join(REPO, 'configs', 'demo.yaml'), join(pkgConfigs, 'demo.yaml'));
  cpSync(await tinyDataset(), join(cwd, 'data', 'demo'), { recursive: true });
  writeFileSync(join(cwd, 'c.yaml'), 'name: c\ntask: {}\nseeds: [1]\n');
  const run = (...o: string[]) => spawnSync(process.execPath, [MAIN, 'expand', '-m', 'node_modules/metaheac/configs/demo.yaml', ...o, '--campaign', 'c.yaml', '--model', 'none.safetensors'], { cwd, encoding: 'utf8' });

  const r = run();
  assert.equal(r.status, 1, r.stderr);
  const inPackage = join(cwd, 'node_modules', 'metaheac', 'data', 'demo');
  assert.ok(r.stderr.includes(`runner.train_data_dir is ${inPackage}, which does not exist`), r.stderr);
  assert.match(r.stderr, /against its folder.*-o runner\.train_data_dir=DIR/);
  assert.doesNotMatch(r.stderr, /set runner\.train_data_dir to/);

  const ok = run('-o', 'runner.train_data_dir=data/demo');
  assert.doesNotMatch(ok.stderr, /train_data_dir|no dataset/, ok.stderr);
});
