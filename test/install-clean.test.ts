/**
 * `npm ci` stays quiet and offline: no project config key npm does not know (npm warns on
 * every command, and will stop passing such keys on), no locked package whose engines exclude
 * this Node (EBADENGINE), and no install script beyond the audited ones (onnxruntime-node's
 * fetched CUDA binaries from outside the npm registry unless told not to; the tests use
 * onnxruntime-web, which has none).
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

/** Why each install script may run: none downloads anything. */
const AUDITED_INSTALL_SCRIPTS: Record<string, string> = {
  'node_modules/msgpackr-extract': 'node-gyp-build-optional-packages: uses the prebuilt @msgpackr-extract/* package, else builds from source',
  'node_modules/protobufjs': 'postinstall only checks the installed version',
  'node_modules/onnxruntime-web/node_modules/protobufjs': 'as protobufjs',
};

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

test('no locked package has an install script that was not audited (none may download)', () => {
  const scripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript).map(([k]) => k).sort();
  assert.deepEqual(scripts, Object.keys(AUDITED_INSTALL_SCRIPTS).sort());
});

test('npm reads the project\'s config without a warning', () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  const r = spawnSync('npm', ['config', 'get', 'registry'], { cwd: REPO, encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /warn/i);
});
