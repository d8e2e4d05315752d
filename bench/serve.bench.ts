/**
 * `npm run bench -- serve`: a bounded load test of the audience service on loopback. A user
 * pool of BENCH_SERVE_POOL users (default 1,000,000) of the Tencent schema is written once,
 * with a checkpoint of the Tencent dimensions (random weights: speed does not depend on
 * them); then BENCH_SERVE_CAMPAIGNS campaigns (default 4) are submitted at once to
 *   - the embedded service (one process, engine on every core), and
 *   - the service on BullMQ with 2 workers (one engine thread each) on a local redis-server,
 * and each campaign's time to audience (submission to done, as the server measures it) is
 * read back. Reported: campaigns per minute, p50/p95 time to audience, peak RSS of every
 * process (VmHWM). Each mode stops after BENCH_SERVE_LIMIT_S seconds (default 900).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartWriter } from '../src/data/arrow-write.js';
import { USERS_FILE, writeSchema } from '../src/data/dataset.js';
import { TENCENT_SCHEMA } from '../src/data/schema.js';
import { loadConfig } from '../src/config/config.js';
import { layoutFor } from '../src/meta/model-setup.js';
import { saveCheckpoint } from '../src/model/checkpoint.js';
import { JsOps } from '../src/model/ops.js';
import { allocParams, initParams } from '../src/model/params.js';
import { Rng } from '../src/util/rng.js';
import { freePort, json, metaheac, Proc, startServe } from '../test/helpers/serve.js';
import { syntheticPart } from './synthetic-part.js';

const POOL = Number(process.env.BENCH_SERVE_POOL ?? 1_000_000);
const CAMPAIGNS = Number(process.env.BENCH_SERVE_CAMPAIGNS ?? 4);
const LIMIT_S = Number(process.env.BENCH_SERVE_LIMIT_S ?? 900);
const SEEDS = 200;

function peakRssMiB(pid: number | undefined): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

function dataset(root: string): { config: string; model: string; campaigns: Record<string, unknown>[] } {
  const data = join(root, 'data');
  const s = TENCENT_SCHEMA;
  writeSchema(data, s, { users: USERS_FILE });
  const w = new PartWriter(join(data, USERS_FILE), s, { kind: 'users', extra: { uid: 'int32' } });
  const chunk = 100_000;
  for (let r0 = 0; r0 < POOL; r0 += chunk) {
    const n = Math.min(chunk, POOL - r0);
    const d = syntheticPart(s, n, 1, 1 + r0);
    w.append({ ...d, task: new Int32Array(0), extra: { uid: Int32Array.from({ length: n }, (_, i) => r0 + i) } });
  }
  w.close();
  const config = join(root, 'cfg.yaml');
  writeFileSync(config, `runner:\n  train_data_dir: ${data}\nhyper_parameters:\n  batch_size: 1024\n`);
  const cfg = loadConfig(config);
  const p = allocParams(layoutFor(cfg, s), new JsOps(Float32Array));
  initParams(p, 7);
  const model = join(root, 'model.safetensors');
  saveCheckpoint(model, p);
  const rng = new Rng(11);
  const campaigns = Array.from({ length: CAMPAIGNS }, (_, k) => ({
    name: `bench_${k}`,
    codes: true,
    task: Object.fromEntries(s.task.map((f) => [f.name, rng.int(f.maxIdx + 1)])),
    seeds: Array.from({ length: SEEDS }, () => rng.int(POOL)),
    top: 10000,
  }));
  return { config, model, campaigns };
}

async function load(url: string, campaigns: Record<string, unknown>[]): Promise<{ seconds: number[]; wall: number; done: number }> {
  const t0 = Date.now();
  const ids = await Promise.all(
    campaigns.map(async (c) => {
      const r = await fetch(`${url}/v1/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(c) });
      if (r.status !== 202) throw new Error(`submit: ${r.status} ${await r.text()}`);
      return (await json<{ id: string }>(r)).id;
    }),
  );
  const seconds: number[] = [];
  const pending = new Set(ids);
  while (pending.size > 0 && Date.now() - t0 < LIMIT_S * 1000) {
    for (const id of [...pending]) {
      const st = await json<{ state: string; error?: string; timings: { totalSeconds?: number } }>(await fetch(`${url}/v1/jobs/${id}`));
      if (st.state === 'done') {
        seconds.push(st.timings.totalSeconds!);
        pending.delete(id);
      } else if (st.state === 'failed' || st.state === 'cancelled') throw new Error(`job ${id} ${st.state}: ${st.error ?? ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { seconds, wall: (Date.now() - t0) / 1000, done: seconds.length };
}

function figures(r: { seconds: number[]; wall: number; done: number }): Record<string, unknown> {
  return {
    campaigns: CAMPAIGNS,
    completed: r.done,
    campaignsPerMinute: Math.round((r.done / r.wall) * 60 * 100) / 100,
    timeToAudienceP50S: r.done ? quantile(r.seconds, 0.5) : null,
    timeToAudienceP95S: r.done ? quantile(r.seconds, 0.95) : null,
    wallS: r.wall,
  };
}

export async function bench(): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'mh-bench-serve-'));
  const procs: Proc[] = [];
  try {
    const t = Date.now();
    const { config, model, campaigns } = dataset(root);
    process.stderr.write(`serve bench: pool of ${POOL} users written in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
    const common = ['-m', config, '--model', model, '-q'];
    const out: Record<string, unknown> = { poolUsers: POOL, seedsPerCampaign: SEEDS, top: 10000, schema: 'tencent', dims: 'embed 64, mlp [64, 64], 8 experts, 5 critics' };

    const emb = await startServe(common);
    procs.push(emb.proc);
    const e = await load(emb.url, campaigns);
    out.embedded = { ...figures(e), peakRssMiB: { server: peakRssMiB(emb.proc.child.pid) } };
    await emb.proc.stop();
    process.stderr.write(`serve bench: embedded ${JSON.stringify(out.embedded)}\n`);

    if (spawnSync('redis-server', ['--version']).status !== 0) {
      out.redis = 'skipped: redis-server is not installed';
      return out;
    }
    const port = await freePort();
    const redis = new Proc('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', root]);
    procs.push(redis);
    await redis.waitFor(/Ready to accept connections/);
    const url = `redis://127.0.0.1:${port}`;
    const workers = [0, 1].map(() => metaheac(['worker', ...common, '--redis', url, '--threads', '1']));
    procs.push(...workers);
    const srv = await startServe([...common, '--redis', url, '--shards', '4']);
    procs.push(srv.proc);
    await Promise.all(workers.map((w) => w.waitFor(/worker ready/, 120000)));
    const r = await load(srv.url, campaigns);
    out.redis2Workers = {
      ...figures(r),
      shardsPerCampaign: 4,
      peakRssMiB: { server: peakRssMiB(srv.proc.child.pid), worker1: peakRssMiB(workers[0]!.child.pid), worker2: peakRssMiB(workers[1]!.child.pid), redis: peakRssMiB(redis.child.pid) },
    };
    return out;
  } finally {
    for (const p of procs.reverse()) await p.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
