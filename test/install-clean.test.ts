/**
 * `npm ci` stays quiet and offline: no project config key npm does not know (npm warns on
 * every command, and will stop passing such keys on), no locked package whose engines exclude
 * this Node (EBADENGINE), and no dependency's install script run: package.json's allowScripts
 * denies each (npm 11 then lists none as unreviewed; older npm ignores the field, so no
 * locked package may need one: onnxruntime-node's fetched CUDA binaries from outside the npm
 * registry, and the tests use onnxruntime-web, which has none).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './helpers/pickles.js';

interface Locked {
  engines?: { node?: string };
  hasInstallScript?: boolean;
}
const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, Locked> };

/** Whether version `v` (x.y.z) satisfies an npm range of the forms lockfiles hold; throws on any other form. */
function satisfies(v: string, range: string): boolean {
  const [a, b, c] = v.split('.').map(Number) as [number, number, number];
  const cmp = (x: number[]): number => a - x[0]! || b - x[1]! || c - x[2]!;
  const parts = (s: string): number[] => s.split('.').map((p) => (/^(\*|x)$/.test(p) ? 0 : Number(p))).concat([0, 0, 0]).slice(0, 3);
  return range.split('||').some((alt) => {
    const s = alt.trim().replace(/^(>=|\^)\s+/, '$1');
    let m: RegExpExecArray | null;
    if ((m = /^>=(\d+(?:\.(?:\d+|x|\*)){0,2})$/.exec(s))) return cmp(parts(m[1]!)) >= 0;
    if ((m = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(s))) return a === Number(m[1]) && cmp(parts(`${m[1]}.${m[2]}.${m[3]}`)) >= 0;
    if ((m = /^(\d+)\.(\*|x)$/.exec(s))) return a === Number(m[1]);
    throw new Error(`unsupported engines range "${range}"`);
  });
}

test('satisfies() reads the range forms of the lockfile as npm does', () => {
  assert.ok(satisfies('20.20.2', '>=20'));
  assert.ok(!satisfies('20.20.2', '>=22'));
  assert.ok(satisfies('20.20.2', '^20.19.0 || ^22.12.0 || >=23'));
  assert.ok(!satisfies('20.18.0', '^20.19.0 || ^22.12.0 || >=23'));
  assert.ok(satisfies('20.1.0', '6.* || 8.* || >= 10.*'));
  assert.ok(satisfies('20.1.0', '>= 10.x'));
  assert.throws(() => satisfies('20.1.0', '~20.1'), /unsupported/);
});

test('every locked package supports this Node (npm ci prints no EBADENGINE)', () => {
  const node = process.versions.node;
  const bad = Object.entries(lock.packages)
    .filter(([k, p]) => k !== '' && p.engines?.node !== undefined && !satisfies(node, p.engines.node))
    .map(([k, p]) => `${k} (node ${p.engines!.node})`);
  assert.deepEqual(bad, []);
});

test('every locked package with an install script is denied it in allowScripts (none is needed, and none may download)', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
  const scripts = [...new Set(Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript).map(([k]) => k.slice(k.lastIndexOf('node_modules/') + 13)))].sort();
  assert.deepEqual(Object.keys(pkg.allowScripts ?? {}).sort(), scripts);
  assert.ok(Object.values(pkg.allowScripts!).every((allowed) => !allowed));
});

test('npm reads the project\'s config without a warning', () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  const r = spawnSync('npm', ['config', 'get', 'registry'], { cwd: REPO, encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /warn/i);
});
