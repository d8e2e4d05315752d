/**
 * `metaheac serve --redis` with two `metaheac worker` processes on a real redis-server: shard
 * jobs spread over the workers, one worker killed mid-shard, a server restart; every
 * audience compared with the embedded service's, byte for byte.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, json, metaheac, Proc, serveData, startServe, waitJob, type ServeData } from './helpers/serve.js';

const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0;
const SKIP = HAVE_REDIS ? false : 'redis-server is not installed (Debian package redis-server; .ci/run installs it)';

describe('metaheac serve --redis with two workers', { skip: SKIP }, () => {
  let d: ServeData;
  let redisDir: string;
  let redis: Proc;
  let redisUrl: string;
  let embedded: { proc: Proc; url: string };
  let server: { proc: Proc; url: string };
  let workers: Proc[] = [];
  const procs: Proc[] = [];
  const ids: Record<string, string> = {};

  const campaignA = () => ({ name: 'alpha', aid: d.campaign.aid, codes: true, task: d.campaign.task, seeds: d.campaign.seeds, top: 30 });
  const campaignB = () => ({ name: 'beta', codes: true, task: d.campaign.task, examples: d.campaign.seeds.slice(0, 6).map((uid, i) => ({ uid, label: i % 3 === 0 ? 0 : 1 })), top: 25, include_seeds: true });

  async function audienceOf(url: string, body: unknown): Promise<{ id: string; csv: Buffer; parquet: Buffer }> {
    const r = await fetch(`${url}/v1/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 202, await r.clone().text());
    const { id } = await json<{ id: string }>(r);
    const st = await waitJob(url, id);
    assert.equal(st.state, 'done', JSON.stringify(st));
    return { id, ...(await download(url, id)) };
  }

  async function download(url: string, id: string): Promise<{ csv: Buffer; parquet: Buffer }> {
    const get = async (p: string) => {
      const r = await fetch(`${url}/v1/jobs/${id}/${p}`);
      assert.equal(r.status, 200, p);
      return Buffer.from(await r.arrayBuffer());
    };
    return { csv: await get('audience.csv'), parquet: await get('audience.parquet') };
  }

  before(async () => {
    d = serveData(20);
    redisDir = mkdtempSync(join(tmpdir(), 'mh-redis-'));
    const port = await freePort();
    // no persistence: nothing written outside its temporary folder
    redis = new Proc('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir]);
    procs.push(redis);
    await redis.waitFor(/Ready to accept connections/);
    redisUrl = `redis://127.0.0.1:${port}`;
    const common = ['-m', d.config, '--model', d.model, '-q'];
    const wargs = ['worker', ...common, '--redis', redisUrl, '--lock-ms', '2000', '--stalled-ms', '1000'];
    workers = [metaheac(wargs), metaheac(wargs)];
    procs.push(...workers);
    const started = await Promise.all([startServe(common), startServe([...common, '--redis', redisUrl, '--shards', '3']), ...workers.map((w) => w.waitFor(/worker ready/))]);
    embedded = started[0] as { proc: Proc; url: string };
    server = started[1] as { proc: Proc; url: string };
    procs.push(embedded.proc, server.proc);
  });

  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    d?.cleanup();
    if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  });

  test('shards spread over the workers; a worker killed mid-shard has its shard retried by the other; the audience equals the embedded run', async () => {
    const reference = audienceOf(embedded.url, campaignA());
    const r = await fetch(`${server.url}/v1/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(campaignA()) });
    assert.equal(r.status, 202);
    const { id } = await json<{ id: string }>(r);
    ids.alpha = id;
    const [victim, survivor] = workers as [Proc, Proc];
    const line = await victim.waitFor(new RegExp(`"shard started","job":"${id}"`));
    victim.child.kill('SIGKILL');
    const shard = /"shard":"(\d+\/\d+)"/.exec(line)![1]!;
    const st = await waitJob(server.url, id);
    assert.equal(st.state, 'done', JSON.stringify(st));
    assert.deepEqual(st.shards, { total: 3, done: 3 });
    const progress = st.progress as { rowsScored: number; poolRows: number };
    assert.equal(progress.rowsScored, progress.poolRows);
    // the killed worker never finished that shard; the other one took it over
    assert.ok(!victim.lines.some((l) => l.includes('"shard done"') && l.includes(`"shard":"${shard}"`)), 'the victim finished its shard before the kill');
    assert.ok(survivor.lines.some((l) => l.includes('"shard started"') && l.includes(`"job":"${id}"`) && l.includes(`"shard":"${shard}"`)), `shard ${shard} was not retried by the other worker`);
    const got = await download(server.url, id);
    const want = await reference;
    assert.ok(got.csv.equals(want.csv), 'CSV differs from the embedded run');
    assert.ok(got.parquet.equals(want.parquet), 'Parquet differs from the embedded run');
  });

  test('jobs and results survive a server restart; new campaigns run on the remaining worker; cancel', async () => {
    await server.proc.stop();
    server = await startServe(['-m', d.config, '--model', d.model, '-q', '--redis', redisUrl, '--shards', '3']);
    procs.push(server.proc);
    const ready = await json(await fetch(`${server.url}/readyz`));
    assert.equal(ready.mode, 'redis');
    assert.equal(ready.ready, true);
    const st = await json(await fetch(`${server.url}/v1/jobs/${ids.alpha}`));
    assert.equal(st.state, 'done');
    const again = await download(server.url, ids.alpha!);
    const [ref, emb] = await Promise.all([audienceOf(embedded.url, campaignA()), audienceOf(embedded.url, campaignB())]);
    assert.ok(again.csv.equals(ref.csv));
    const beta = await audienceOf(server.url, campaignB());
    assert.ok(beta.csv.equals(emb.csv), 'examples campaign: CSV differs from the embedded run');
    assert.ok(beta.parquet.equals(emb.parquet));
    // cancel: the flag stops running shards, waiting ones are removed
    const c = await json<{ id: string }>(await fetch(`${server.url}/v1/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...campaignA(), name: 'gamma' }) }));
    const del = await json(await fetch(`${server.url}/v1/jobs/${c.id}`, { method: 'DELETE' }));
    assert.equal(del.state, 'cancelled');
    assert.equal((await waitJob(server.url, c.id)).state, 'cancelled');
    assert.equal((await fetch(`${server.url}/v1/jobs/${c.id}/audience.csv`)).status, 409);
  });
});
