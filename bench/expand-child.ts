/**
 * Child side of the expansion benchmark, in a fresh process so that its peak RSS is the
 * run's own: a Tencent-schema general model (fresh initialisation: the cost does not
 * depend on the weights), `campaigns` campaigns of `examples` stage-1 rows each, and a pool
 * of `users` users generated on the fly (a block of distinct rows cycled under new uids, copied
 * chunk by chunk as a table's reader would;
 * nothing is written to disk but the small seed table). Prints JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { PartWriter } from '../src/data/arrow-write.js';
import { USERS_FILE, writeSchema } from '../src/data/dataset.js';
import type { PartData } from '../src/data/part.js';
import { allocatePart, copyRows, sliceRows } from '../src/data/part-ops.js';
import { TENCENT_SCHEMA } from '../src/data/schema.js';
import { expandCampaigns, parseCampaign, userSchema, type PoolSource } from '../src/expand/index.js';
import { createOps } from '../src/kernels/index.js';
import { layoutFor } from '../src/meta/model-setup.js';
import { allocParams, initParams } from '../src/model/params.js';
import { syntheticPart } from './synthetic-part.js';

const [users, campaigns, examples, threads] = process.argv.slice(2).map(Number) as [number, number, number, number];
const schema = TENCENT_SCHEMA;
const us = userSchema(schema);
const BLOCK = 1 << 18;
const UID0 = 1_000_000_000;

const dir = mkdtempSync(join(tmpdir(), 'mh-bench-expand-'));
try {
  // the seed table: `examples` users with uids 1.., their labels 5% positive
  const seedRows = syntheticPart(schema, examples, 1, 7);
  const w = new PartWriter(join(dir, USERS_FILE), schema, { kind: 'users', extra: { uid: 'int32' } });
  w.append({ ...seedRows, task: new Int32Array(0), extra: { uid: Int32Array.from({ length: examples }, (_, i) => i + 1) } });
  w.close();
  writeSchema(dir, schema, { users: USERS_FILE });
  const cfg = loadConfig(null, [`runner.train_data_dir=${dir}`, `runner.threads=${threads}`, 'hyper_parameters.batch_size=1024']);
  const list = Array.from({ length: campaigns }, (_, k) =>
    parseCampaign(
      {
        name: `c${k}`,
        aid: k,
        codes: true,
        task: Object.fromEntries(schema.task.map((f, i) => [f.name, (k * 7 + i) % (f.maxIdx + 1)])),
        examples: Array.from({ length: examples }, (_, i) => ({ uid: i + 1, label: seedRows.label[i]! })),
      },
      dir,
      `campaign ${k}`,
    ),
  );
  const block = syntheticPart(us, BLOCK, 1, 11);
  let buf: PartData | null = null;
  let uid = new Float64Array(0);
  const pool: PoolSource = {
    name: `${users} generated users`,
    rows: users,
    async forEachChunk(from, to, chunk, fn) {
      if (!buf || buf.nRows !== chunk) {
        buf = allocatePart(us, chunk);
        uid = new Float64Array(chunk);
      }
      for (let r = from; r < to; r += chunk) {
        const n = Math.min(chunk, to - r);
        // rows r.. of the cycled block, wrapping round its end
        for (let i = 0; i < n; ) {
          const off = (r + i) % BLOCK;
          const k = Math.min(n - i, BLOCK - off);
          copyRows(us, block, off, buf, i, k);
          i += k;
        }
        for (let i = 0; i < n; i++) uid[i] = UID0 + r + i;
        fn(n === chunk ? buf : sliceRows(us, buf, 0, n), n === chunk ? uid : uid.subarray(0, n), r);
      }
    },
  };
  const ops = await createOps(threads);
  const params = allocParams(layoutFor(cfg, schema), ops);
  initParams(params, 1);
  const baselineRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const res = await expandCampaigns({ config: cfg, model: params, ops, campaigns: list, users: pool, top: 10_000, outDir: null });
  const seconds = (performance.now() - t0) / 1000;
  await ops.close();
  const s = res[0]!.summary;
  process.stdout.write(
    `${JSON.stringify({
      users,
      campaigns,
      examples,
      adaptationSteps: s.adaptation!.steps,
      adaptSecondsPerCampaign: res.reduce((a, r) => a + r.summary.seconds.adapt, 0) / campaigns,
      scoreSeconds: s.seconds.score,
      // seed lookup, stage-1 rows and every campaign's adaptation (in parallel): the wall time before scoring
      adaptWallSeconds: seconds - s.seconds.score,
      totalSeconds: seconds,
      baselineRssBytes: baselineRss,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    })}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
