/**
 * What an installed package holds and does: the files `npm pack` ships (LICENSE, source maps
 * that resolve), require() from CommonJS, and `metaheac demo` writing under the working
 * directory rather than inside the package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { MAIN } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';
import { REPO } from './helpers/pickles.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { license: string; bin: Record<string, string>; exports: Record<string, Record<string, string>> };

test('npm pack ships LICENSE (the package\'s licence), the entry points, and no source map pointing at a file left out', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const files = new Set((JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
  assert.ok(files.has('LICENSE'));
  assert.equal(pkg.license, 'Apache-2.0');
  assert.match(readFileSync(join(REPO, 'LICENSE'), 'utf8'), /^\s*Apache License\s+Version 2\.0, January 2004/);
  for (const target of [...Object.values(pkg.bin), ...Object.values(pkg.exports['.']!)]) assert.ok(files.has(posix.normalize(target)), target);
  let maps = 0;
  for (const f of files) {
    if (!f.endsWith('.map')) continue;
    maps++;
    const map = JSON.parse(readFileSync(join(REPO, f), 'utf8')) as { sources: string[]; sourceRoot?: string };
    for (const s of map.sources) {
      const target = posix.normalize(posix.join(posix.dirname(f), map.sourceRoot ?? '', s));
      assert.ok(files.has(target), `${f} points at ${target}, which is not shipped`);
    }
  }
  assert.ok(maps > 0);
});

test('CommonJS: require("metaheac") says to use import(), and import() from CommonJS loads the library', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO, join(dir, 'node_modules', 'metaheac'), 'dir');
  writeFileSync(join(dir, 'a.cjs'), 'try { require("metaheac"); } catch (e) { console.log(e.code, e.message); }\nimport("metaheac").then((m) => console.log(typeof m.loadConfig, typeof m.runTrain));\n');
  const r = spawnSync(process.execPath, ['a.cjs'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "ERR_REQUIRE_ESM metaheac is an ES module: load it with `await import('metaheac')` (require() is not supported)\nfunction function\n");
});

test('demo without -m writes its data and outputs under the working directory, not beside the package\'s config', async (t) => {
  const cwd = tempDir(t);
  const data = await tinyDataset();
  cpSync(data, join(cwd, 'data', 'demo'), { recursive: true });
  // tinyOverrides' first three keys are paths: the demo must choose them itself
  const o = tinyOverrides(data, '').slice(3).flatMap((kv) => ['-o', kv]);
  const r = spawnSync(process.execPath, [MAIN, 'demo', ...o, '--threads', '1', '--json'], { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // the recommended recipe keeps the best validation checkpoint, and infer evaluates it
  for (const arm of ['meta', 'nometa']) {
    assert.ok(existsSync(join(cwd, 'output', 'demo', arm, '0', 'model.safetensors')), arm);
    assert.ok(existsSync(join(cwd, 'output', 'demo', arm, 'best', 'model.safetensors')), arm);
    assert.ok(existsSync(join(cwd, 'output', 'demo', arm, 'best', 'metrics.json')), arm);
  }
  assert.ok(!existsSync(join(dirname(dirname(MAIN)), 'output')), 'nothing under dist/');
});
