import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { Engine } from '../src/kernels/engine.js';
import { UserError } from '../src/util/errors.js';

test('alloc: 64-byte aligned, zeroed, stack-style release', async () => {
  const e = await Engine.create({ threads: 1, memoryMiB: 8 });
  const a = e.allocF32(3);
  const b = e.allocI32(5);
  assert.equal(a.byteOffset % 64, 0);
  assert.equal(b.byteOffset % 64, 0);
  assert.ok(b.byteOffset >= a.byteOffset + 12);
  assert.ok(a.byteOffset >= 64 * 1024, 'the first 64 KiB belong to the wasm runtime');
  const mark = e.mark();
  const c = e.allocF32(100);
  c.fill(9);
  e.release(mark);
  const d = e.allocF32(100);
  assert.equal(d.byteOffset, c.byteOffset, 'released space is reused');
  assert.ok(d.every((x) => x === 0), 'reused space comes back zeroed');
  assert.equal(e.allocF32(0).length, 0);
  assert.throws(() => e.release(mark + 1e9), /release: .* is not a live mark/);
  const free = e.freeBytes;
  e.reset();
  assert.ok(e.freeBytes > free);
  await e.close();
});

test('alloc: at the wasm32 maximum the error says what to shrink', async () => {
  const e = await Engine.create({ threads: 1, memoryMiB: 4096 });
  assert.throws(() => e.allocF32(2 ** 30), /engine memory exhausted: .*the 4096 MiB of a wasm32 memory are all reserved: use smaller tables/);
  await e.close();
});

test('alloc: exhaustion is a clear user error', async () => {
  const e = await Engine.create({ threads: 1, memoryMiB: 8 });
  e.allocF32(3);
  const free = e.freeBytes;
  assert.throws(() => e.allocF32(1 << 21), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.message, `engine memory exhausted: asked 8388608 bytes, ${free} free; raise memoryMiB`);
    return true;
  });
  assert.equal(e.allocF32(free / 4).length, free / 4, 'exactly what is free still fits');
  assert.throws(() => e.allocF32(1), /asked 4 bytes, 0 free/);
  assert.throws(() => e.allocF32(-1), /element count must be a non-negative integer/);
  await e.close();
});

test('create: validates options and defaults threads to the core count', async () => {
  await assert.rejects(Engine.create({ threads: -1 }), /threads must be an integer from 1 to 256/);
  await assert.rejects(Engine.create({ memoryMiB: 5000 }), /memoryMiB must be an integer from 1 to 4096, got 5000/);
  await assert.rejects(Engine.create({ threads: 64, memoryMiB: 16 }), /engine memory exhausted: 64 threads need \d+ bytes of scratch/);
  const e = await Engine.create({ threads: 0, memoryMiB: 8 + 8 * availableParallelism() });
  assert.equal(e.threads, availableParallelism());
  await e.close();
});

test('close: stops the workers; the engine refuses work afterwards', async () => {
  const e = await Engine.create({ threads: 3, memoryMiB: 16 });
  const a = e.allocF32(4);
  await e.close();
  await e.close();
  assert.throws(() => e.gemm(false, false, 2, 2, 1, a, a, a, 0), /engine is closed/);
  assert.throws(() => e.allocF32(1), /engine is closed/);
});

test('a forgotten close does not keep the process alive', () => {
  const url = new URL('../src/kernels/engine.js', import.meta.url).href;
  const script = `
    const { Engine } = await import(${JSON.stringify(url)});
    const e = await Engine.create({ threads: 2, memoryMiB: 16 });
    const a = e.allocF32(1 << 16);
    e.gemm(false, false, 256, 256, 256, a, a, a.subarray(0), 0);
    console.log('done');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.signal, null, 'the child had to be killed');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'done');
});
