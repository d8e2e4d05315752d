/**
 * Adam run twice in a kernel worker (adam-job.ts) and twice here on the same inputs: prints
 * "same bits" when both agree. A worker left unable to take its second job hangs this
 * process, which is why adam.test.ts runs it as a child with a time limit.
 */
import { createOps } from '../../src/kernels/index.js';

const rows = 3000;
const E = 64;
const ops = await createOps(2, 64);
const arrays = () => {
  const p = ops.alloc(rows * E), m = ops.alloc(rows * E), v = ops.alloc(rows * E), g = ops.alloc(rows * E);
  for (let i = 0; i < p.length; i++) [p[i], g[i]] = [Math.sin(i), Math.cos(i)];
  const ids = ops.allocI32(rows);
  for (let u = 0; u < rows; u++) ids[u] = rows - 1 - u;
  return { p, m, v, g, ids };
};
const inWorker = arrays();
const here = arrays();
const jobs = ops.jobs!;
const at = [inWorker.p, inWorker.m, inWorker.v, inWorker.g, inWorker.ids].map((a) => a.byteOffset);
const id = jobs.load(new URL('./adam-job.js', import.meta.url).href, { at, rows, E }, 1 << 16);
for (let step = 0; step < 2; step++) {
  jobs.start(1, id, []);
  jobs.finish(1);
  ops.adamRows(here.p, here.m, here.v, here.g, here.ids, rows, E, 0.01, 0.5, 0.9, 0.999, 1e-8);
}
const same = Buffer.compare(Buffer.from(Float32Array.from(inWorker.p).buffer), Buffer.from(Float32Array.from(here.p).buffer)) === 0;
const moved = here.p[0] !== Math.fround(Math.sin(0));
process.stdout.write(same && moved ? 'same bits\n' : `different: same ${same}, moved ${moved}\n`);
await ops.close();
