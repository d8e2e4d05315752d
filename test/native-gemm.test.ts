import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adviseHugePages, gemmBackend, nativeBuilt, nativeKernels, type NativeKernels } from '../src/kernels/native.js';
import { kernelModule, kernelsRelaxed, type KernelExports } from '../src/kernels/wasm.js';
import { Rng } from '../src/util/rng.js';

// `npm ci` builds the addon wherever Node's headers and a C compiler are found; CI sets
// METAHEAC_REQUIRE_NATIVE=1 so that a build that silently fell back fails here.
const required = process.env.METAHEAC_REQUIRE_NATIVE === '1';
const absent = nativeBuilt() ? (gemmBackend() === 'wasm' ? `this CPU has neither AVX-512 nor AVX2+FMA, or METAHEAC_NATIVE=0` : '') : 'native/build holds no addon (npm run build:native)';
const skip = absent !== '' && !required ? `native gemm unavailable: ${absent}` : false;

test('the native gemm is built and in use where CI requires it', { skip: !required && 'METAHEAC_REQUIRE_NATIVE is not 1' }, () => {
  assert.equal(absent, '', absent);
  assert.match(gemmBackend(), /^native-(avx512|avx2)$/);
});

test('the engine memory is offered to transparent huge pages where Linux has them', { skip }, () => {
  let thp = '';
  try {
    thp = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
  } catch {
    // not Linux, or no THP: the advice must simply be declined
  }
  const m = new WebAssembly.Memory({ initial: 128, maximum: 128, shared: true });
  assert.equal(adviseHugePages(m), /\[(always|madvise)\]/.test(thp));
  process.env.METAHEAC_HUGE_PAGES = '0';
  try {
    assert.equal(adviseHugePages(m), false);
  } finally {
    delete process.env.METAHEAC_HUGE_PAGES;
  }
});

for (const [what, addon, why] of [
  ['a native build that does not load', 'not a shared object', /did not load from .*metaheac_native\.node: .+/],
  ['no native build (an installed package without one)', null, /not built: no .*metaheac_native\.node; `npm run build:native` builds it where a C compiler is present/],
] as const) {
  test(`${what} leaves the engine on its WebAssembly kernels, with one line when an engine starts and the reason in --version's`, () => {
    // the module's layout, with what the build left where it puts the addon
    const root = mkdtempSync(join(tmpdir(), 'metaheac-native-'));
    try {
      const kernels = join(root, 'dist', 'src', 'kernels');
      mkdirSync(kernels, { recursive: true });
      for (const f of ['native.js', 'split.js']) copyFileSync(fileURLToPath(new URL(`../src/kernels/${f}`, import.meta.url)), join(kernels, f));
      writeFileSync(join(root, 'package.json'), '{"type":"module"}');
      const release = join(root, 'native', 'build', 'Release');
      mkdirSync(release, { recursive: true });
      if (addon !== null) writeFileSync(join(release, 'metaheac_native.node'), addon);
      // two engines' worth of kernels: still one notice
      const script = `import { gemmBackendDescription, nativeKernels } from ${JSON.stringify(join(kernels, 'native.js'))};
        const m = new WebAssembly.Memory({ initial: 1 });
        nativeKernels({}, m); nativeKernels({}, m);
        process.stdout.write(gemmBackendDescription());`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, METAHEAC_NATIVE: '' } });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^wasm \\(native kernels ${why.source}\\)$`));
      assert.match(r.stderr, new RegExp(`^metaheac: gemm runs in WebAssembly, about 3x slower \\(native kernels ${why.source}\\)\n$`));
      const chosen = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, METAHEAC_NATIVE: '0' } });
      assert.equal(chosen.stdout, 'wasm (native kernels off: METAHEAC_NATIVE=0)');
      assert.equal(chosen.stderr, '', 'a chosen fall-back is not announced');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

const PAGES = 1024; // 64 MiB
const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES, shared: true });
const wasm = new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports as unknown as KernelExports;
const f32 = new Float32Array(memory.buffer);
let top = 1 << 16;
function alloc(floats: number): number {
  const at = top;
  top += Math.ceil((floats * 4) / 64) * 64;
  assert.ok(top <= memory.buffer.byteLength);
  return at;
}

interface Case {
  tA: number;
  tB: number;
  M: number;
  N: number;
  K: number;
  beta: number;
  /** Extra floats at the end of each stored row. */
  pad: number;
}

// Edges of both kernels' tiles (4x8 wasm, 6x16 AVX2, 8x32 AVX-512), several KC blocks of
// 256, more columns than one NC block of 4096, and K = 0.
const CASES: Case[] = [];
for (const [M, N, K] of [[1, 1, 1], [7, 33, 5], [37, 13, 300], [130, 70, 513], [64, 448, 1024], [9, 31, 257], [3, 4100, 7], [5, 9, 0]]) {
  for (const tA of [0, 1]) for (const tB of [0, 1]) CASES.push({ tA, tB, M: M!, N: N!, K: K!, beta: (M! + tA + tB) % 2, pad: (tA + 2 * tB) % 3 });
}

/** One case's operands, C filled with `cInit`, as byte offsets and strides. */
function operands(c: Case, rng: Rng): { a: number; b: number; cs: [number, number]; lda: number; ldb: number; ldc: number } {
  const [ar, ac] = c.tA ? [c.K, c.M] : [c.M, c.K];
  const [br, bc] = c.tB ? [c.N, c.K] : [c.K, c.N];
  const lda = ac + c.pad, ldb = bc + c.pad, ldc = c.N + c.pad;
  const a = alloc(ar * lda), b = alloc(br * ldb);
  for (let i = 0; i < ar * lda; i++) f32[a / 4 + i] = rng.float() - 0.5;
  for (let i = 0; i < br * ldb; i++) f32[b / 4 + i] = rng.float() - 0.5;
  const cs: [number, number] = [alloc(c.M * ldc), alloc(c.M * ldc)];
  for (let i = 0; i < c.M * ldc; i++) {
    // beta 0 must drop whatever C held, NaN included
    const v = c.beta ? rng.float() - 0.5 : Number.NaN;
    f32[cs[0] / 4 + i] = v;
    f32[cs[1] / 4 + i] = v;
  }
  return { a, b, cs, lda, ldb, ldc };
}

function sameBits(x: number, y: number, floats: number, what: string): void {
  const a = new Int32Array(memory.buffer, x, floats);
  const b = new Int32Array(memory.buffer, y, floats);
  for (let i = 0; i < floats; i++) if (a[i] !== b[i]) assert.fail(`${what}: element ${i} differs (${f32[x / 4 + i]} vs ${f32[y / 4 + i]})`);
}

function nativeFns(): NativeKernels {
  const { fns } = nativeKernels(wasm, memory);
  assert.notEqual(fns.gemm, wasm.gemm, 'the native functions are in use');
  return fns;
}

test('native gemm equals the relaxed-SIMD wasm gemm bit for bit, on every layout and edge', { skip }, (t) => {
  if (!kernelsRelaxed()) return t.skip('the wasm build in use is the plain one, which rounds a*b before adding');
  const nat = nativeFns();
  const rng = new Rng(11);
  const scratchW = alloc(wasm.gemmScratchBytes() / 4);
  const scratchN = alloc(nat.gemmScratchBytes() / 4);
  for (const c of CASES) {
    const mark = top;
    const { a, b, cs, lda, ldb, ldc } = operands(c, rng);
    wasm.gemm(c.tA, c.tB, c.M, c.N, c.K, a, b, cs[0], c.beta, lda, ldb, ldc, scratchW);
    nat.gemm(c.tA, c.tB, c.M, c.N, c.K, a, b, cs[1], c.beta, lda, ldb, ldc, scratchN);
    sameBits(cs[0], cs[1], c.M * ldc, JSON.stringify(c));
    top = mark;
  }
});

test('native gemmRows, claiming row chunks from a shared counter, equals native gemm', { skip }, () => {
  const nat = nativeFns();
  const rng = new Rng(12);
  const scratch = alloc(nat.gemmScratchBytes() / 4);
  const counter = alloc(1);
  for (const c of CASES.filter((x) => nat.gemmRowsFits(x.N, x.K))) {
    const mark = top;
    const { a, b, cs, lda, ldb, ldc } = operands(c, rng);
    const n = c.M * ldc;
    const before = f32.slice(cs[1] / 4, cs[1] / 4 + n);
    nat.gemm(c.tA, c.tB, c.M, c.N, c.K, a, b, cs[0], c.beta, lda, ldb, ldc, scratch);
    for (const chunk of [1, 8, 48]) {
      f32.set(before, cs[1] / 4);
      new Int32Array(memory.buffer, counter, 1)[0] = 0;
      // A second caller arriving after the first has taken every chunk finds nothing left to do.
      for (let caller = 0; caller < 2; caller++) {
        nat.gemmRows(c.tA, c.tB, c.M, c.N, c.K, a, b, cs[1], c.beta, lda, ldb, ldc, scratch, counter, chunk);
      }
      sameBits(cs[0], cs[1], n, `${JSON.stringify(c)} chunk ${chunk}`);
    }
    top = mark;
  }
  assert.equal(nat.gemmRowsFits(4096, 256), 1);
  assert.equal(nat.gemmRowsFits(4096, 257), 0);
});

test('native gemm and gemmRows refuse operands outside the engine memory, and a bad chunk counter, writing nothing', { skip }, () => {
  const nat = nativeFns();
  const end = memory.buffer.byteLength;
  const c = alloc(16);
  f32.fill(7, c / 4, c / 4 + 16);
  const scratch = alloc(nat.gemmScratchBytes() / 4);
  assert.throws(() => nat.gemm(0, 0, 4, 4, 4, end - 32, c, c, 0, 4, 4, 4, scratch), /outside the engine memory/);
  assert.throws(() => nat.gemm(0, 0, 4, 4, 4, c, c, end - 16, 0, 4, 4, 4, scratch), /outside the engine memory/);
  assert.throws(() => nat.gemm(0, 0, 4, 4, 4, c, c, c, 0, 4, 4, 4, end - 64), /outside the engine memory/);
  assert.throws(() => nat.gemm(0, 0, 4, 4, 4, c + 2, c, c, 0, 4, 4, 4, scratch), /outside the engine memory/);
  const counter = alloc(1);
  assert.throws(() => nat.gemmRows(0, 0, 4, 4, 4, c, c, end - 16, 0, 4, 4, 4, scratch, counter, 2), /outside the engine memory/);
  assert.throws(() => nat.gemmRows(0, 0, 4, 4, 4, c, c, c, 0, 4, 4, 4, scratch, end - 2, 2), /bad row-chunk counter/);
  assert.throws(() => nat.gemmRows(0, 0, 4, 4, 4, c, c, c, 0, 4, 4, 4, scratch, counter + 1, 2), /bad row-chunk counter/);
  assert.throws(() => nat.gemmRows(0, 0, 4, 4, 4, c, c, c, 0, 4, 4, 4, scratch, counter, 0), /bad row-chunk counter/);
  assert.deepEqual([...f32.subarray(c / 4, c / 4 + 16)], new Array(16).fill(7));
});

test('native adamRows equals the wasm kernel bit for bit, vector lanes and tails alike', { skip }, () => {
  const nat = nativeFns();
  const rng = new Rng(13);
  for (const E of [64, 16, 13, 3, 1]) {
    const mark = top;
    const rows = 50;
    const arrays = () => Array.from({ length: 4 }, () => alloc(rows * E));
    const [pw, mw, vw, g] = arrays() as [number, number, number, number];
    const [pn, mn, vn] = arrays() as [number, number, number, number];
    for (const [w, n] of [[pw, pn], [mw, mn], [vw, vn], [g, g]] as const) {
      for (let i = 0; i < rows * E; i++) f32[w / 4 + i] = f32[n / 4 + i] = (rng.float() - 0.5) * (w === vw ? 0 : 1);
    }
    for (let i = 0; i < rows * E; i++) f32[vw / 4 + i] = f32[vn / 4 + i] = rng.float() * 1e-3;
    // every other row, out of order, some twice over the steps
    const ids = alloc(rows);
    const list = Array.from({ length: rows / 2 }, (_, u) => (u * 7) % rows);
    new Int32Array(memory.buffer, ids, list.length).set(list);
    for (let t = 1; t <= 3; t++) {
      const args = [list.length, E, 0.001 / (1 - 0.9 ** t), Math.sqrt(1 - 0.999 ** t), 1 - 0.9, 0.999, 1 - 0.999, 1e-8] as const;
      wasm.adamRows(pw, mw, vw, g, ids, ...args);
      nat.adamRows(pn, mn, vn, g, ids, ...args);
    }
    sameBits(pw, pn, rows * E, `p, E ${E}`);
    sameBits(mw, mn, rows * E, `m, E ${E}`);
    sameBits(vw, vn, rows * E, `v, E ${E}`);
    top = mark;
  }
});

test('native adamRows refuses a row outside the engine memory and moves nothing', { skip }, () => {
  const nat = nativeFns();
  const p = alloc(64);
  f32.fill(1, p / 4, p / 4 + 64);
  const ids = alloc(2);
  new Int32Array(memory.buffer, ids, 2).set([0, memory.buffer.byteLength / 256]);
  assert.throws(() => nat.adamRows(p, p, p, p, ids, 2, 64, 0.1, 1, 0.1, 0.999, 0.001, 1e-8), /outside the engine memory/);
  new Int32Array(memory.buffer, ids, 2).set([0, -1]);
  assert.throws(() => nat.adamRows(p, p, p, p, ids, 2, 64, 0.1, 1, 0.1, 0.999, 0.001, 1e-8), /outside the engine memory/);
  assert.deepEqual([...f32.subarray(p / 4, p / 4 + 64)], new Array(64).fill(1));
});

