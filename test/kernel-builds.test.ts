import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kernelsRelaxed } from '../src/kernels/wasm.js';

const here = (f: string): string => fileURLToPath(new URL(f, import.meta.url));

test('the relaxed-SIMD build is used exactly where the runtime accepts relaxed SIMD', () => {
  // Node 20 has it behind a V8 flag that kernelModule() turns on; on x86-64 and arm64 V8 supports it.
  if (process.arch === 'x64' || process.arch === 'arm64') assert.equal(kernelsRelaxed(), true);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { kernelsRelaxed } from ${JSON.stringify(here('../src/kernels/wasm.js'))}; process.stdout.write(String(kernelsRelaxed()));`], {
    env: { ...process.env, METAHEAC_RELAXED_SIMD: '0' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'false');
});

// Where the native gemm is built it replaces the wasm one in every other test, so the wasm
// gemm of both builds is tested here with the native one turned off.
for (const [build, relaxed] of [['relaxed-SIMD', '1'], ['plain SIMD', '0']] as const) {
  test(`the ${build} build passes the kernel tests with its own gemm (METAHEAC_NATIVE=0 METAHEAC_RELAXED_SIMD=${relaxed})`, () => {
    const files = ['gemm.test.js', 'elementwise.test.js', 'embedding-kernels.test.js', 'engine.test.js'].map(here);
    // Without NODE_TEST_CONTEXT the child reports on its own stdout instead of to this runner.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...files], {
      env: { ...env, METAHEAC_NATIVE: '0', METAHEAC_RELAXED_SIMD: relaxed },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /# fail 0/);
  });
}
