/** `metaheac serve` with its embedded queue, as a real process over HTTP. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { expandCampaigns, parseCampaign } from '../src/expand/index.js';
import { fileSha256 } from '../src/serve/model-store.js';
import { isLoopback, resolveToken } from '../src/serve/service.js';
import { json, serveData, startServe, waitJob, type Proc, type ServeData } from './helpers/serve.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TOKEN = 'test-token-0123456789abcdef';

let d: ServeData;
let main: { proc: Proc; url: string };
let guarded: { proc: Proc; url: string };
let ref: { csv: Buffer; parquet: Buffer };

function campaign(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'spring', aid: d.campaign.aid, codes: true, task: d.campaign.task, seeds: d.campaign.seeds, top: 40, ...extra };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function runJob(url: string, body: unknown): Promise<{ id: string; status: Record<string, unknown>; csv: Buffer; parquet: Buffer }> {
  const r = await post(url, body);
  assert.equal(r.status, 202, await r.clone().text());
  const { id } = await json<{ id: string }>(r);
  const status = await waitJob(url, id);
  assert.equal(status.state, 'done', JSON.stringify(status));
  const csv = Buffer.from(await (await fetch(`${url}/v1/jobs/${id}/audience.csv`)).arrayBuffer());
  const parquet = Buffer.from(await (await fetch(`${url}/v1/jobs/${id}/audience.parquet`)).arrayBuffer());
  return { id, status, csv, parquet };
}

describe('metaheac serve (embedded queue)', () => {
  before(async () => {
    d = serveData(20);
    const args = ['-m', d.config, '--model', d.model, '-q'];
    [main, guarded] = await Promise.all([
      startServe([...args, '--max-body-mb', '1']),
      startServe([...args, '--max-jobs', '1', '--max-seeds', '3'], { ...process.env, METAHEAC_TOKEN: TOKEN }),
    ]);
    // what `metaheac expand` writes for the same campaign (the CLI calls this function with the checkpoint path)
    const out = mkdtempSync(join(tmpdir(), 'mh-ref-'));
    const cfg = loadConfig(d.config);
    const c = parseCampaign({ name: 'spring', aid: d.campaign.aid, codes: true, task: d.campaign.task, seeds: d.campaign.seeds }, out);
    await expandCampaigns({ config: cfg, model: d.model, campaigns: [c], top: 40, outDir: out, threads: 1 });
    ref = { csv: readFileSync(join(out, 'spring', 'audience.csv')), parquet: readFileSync(join(out, 'spring', 'audience.parquet')) };
    rmSync(out, { recursive: true, force: true });
  });

  after(async () => {
    await Promise.all([main?.proc.stop(), guarded?.proc.stop()]);
    d?.cleanup();
  });

  test('a campaign as JSON: 202 with an unguessable id, states to done, the audience equal to expand\'s byte for byte', async () => {
    const r = await post(main.url, campaign());
    assert.equal(r.status, 202);
    const { id } = await json<{ id: string }>(r);
    assert.match(id, UUID);
    assert.equal(r.headers.get('location'), `/v1/jobs/${id}`);
    const st = await waitJob(main.url, id);
    assert.equal(st.state, 'done');
    const progress = st.progress as { rowsScored: number; poolRows: number };
    assert.ok(progress.poolRows > 50000);
    assert.equal(progress.rowsScored, progress.poolRows);
    assert.equal((st.summary as { campaign: string }).campaign, 'spring');
    assert.ok((st.timings as { totalSeconds: number }).totalSeconds > 0);
    assert.equal((st.model as { sha256: string }).sha256, await fileSha256(d.model));
    const csv = Buffer.from(await (await fetch(`${main.url}/v1/jobs/${id}/audience.csv`)).arrayBuffer());
    assert.ok(csv.equals(ref.csv), 'CSV differs from expand');
    const pq = await fetch(`${main.url}/v1/jobs/${id}/audience.parquet`);
    assert.equal(pq.headers.get('content-type'), 'application/vnd.apache.parquet');
    assert.ok(Buffer.from(await pq.arrayBuffer()).equals(ref.parquet), 'Parquet differs from expand');
    // JSON pages are the CSV's rows
    const rows = ref.csv.toString().trim().split('\n').slice(1);
    const page = await json<{ total: number; offset: number; rows: { uid: number; score: number; rank: number }[] }>(await fetch(`${main.url}/v1/jobs/${id}/audience?limit=5&offset=10`));
    assert.equal(page.total, 40);
    assert.deepEqual(
      page.rows.map((x) => `${x.uid},${x.score},${x.rank}`),
      rows.slice(10, 15).map((l) => { const [u, s, k] = l.split(','); return `${u},${Number(s)},${k}`; }),
    );
  });

  test('seeds uploaded as a file (multipart) give the same audience', async () => {
    const form = new FormData();
    const { seeds: _s, ...rest } = campaign();
    form.append('campaign', JSON.stringify(rest));
    form.append('seeds', new Blob([`uid\n${d.campaign.seeds.join('\n')}\n`]), 'seeds.csv');
    const r = await fetch(`${main.url}/v1/campaigns`, { method: 'POST', body: form });
    assert.equal(r.status, 202, await r.clone().text());
    const { id } = await json<{ id: string }>(r);
    assert.equal((await waitJob(main.url, id)).state, 'done');
    assert.ok(Buffer.from(await (await fetch(`${main.url}/v1/jobs/${id}/audience.csv`)).arrayBuffer()).equals(ref.csv));
  });

  test('bad campaigns are 400 with the CLI\'s one-line messages; unknown jobs 404', async () => {
    const cases: [unknown, RegExp][] = [
      [campaign({ nmae: 'x' }), /^campaign: unknown key "nmae" \(did you mean "name"\?\)$/],
      [campaign({ seeds: '/etc/passwd' }), /^key "seeds": give a list of uids or upload a file/],
      [campaign({ seeds: [1, 'x'] }), /^campaign: key "seeds\[1\]" must be a uid/],
      [campaign({ task: { nope: 1 } }), /^campaign: key "task\.nope" is not a task field of the dataset/],
      [campaign({ seeds: [999999999] }), /^campaign: none of the 1 seed uids is in .*users\.arrow \(first: 999999999\)$/],
      [campaign({ top: 0 }), /^top: expected a positive integer/],
      [[1, 2], /must be a JSON object/],
    ];
    for (const [body, re] of cases) {
      const r = await post(main.url, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      const { error } = await json<{ error: string }>(r);
      assert.match(error, re);
      assert.ok(!error.includes('\n'));
    }
    const big = await post(main.url, campaign({ seeds: Array.from({ length: 200000 }, (_, i) => i) }));
    assert.equal(big.status, 413);
    const nf = await fetch(`${main.url}/v1/jobs/00000000-0000-4000-8000-000000000000`);
    assert.equal(nf.status, 404);
  });

  test('DELETE cancels a queued job: cancelled, no audience (409)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await json<{ id: string }>(await post(main.url, campaign({ name: `c${i}` })))).id);
    const del = await json(await fetch(`${main.url}/v1/jobs/${ids[2]}`, { method: 'DELETE' }));
    assert.equal(del.state, 'cancelled');
    assert.equal((await waitJob(main.url, ids[0]!)).state, 'done');
    assert.equal((await waitJob(main.url, ids[2]!)).state, 'cancelled');
    assert.equal((await fetch(`${main.url}/v1/jobs/${ids[2]}/audience`)).status, 409);
  });

  test('health, readiness and the OpenAPI description', async () => {
    assert.deepEqual(await json(await fetch(`${main.url}/healthz`)), { status: 'ok' });
    const ready = await json(await fetch(`${main.url}/readyz`));
    assert.equal(ready.ready, true);
    assert.equal(ready.mode, 'embedded');
    const api = await json<{ openapi: string; paths: Record<string, unknown> }>(await fetch(`${main.url}/openapi.json`));
    assert.match(api.openapi, /^3\./);
    for (const p of ['/v1/campaigns', '/v1/jobs/{id}', '/v1/jobs/{id}/audience', '/v1/jobs/{id}/audience.csv', '/v1/jobs/{id}/audience.parquet', '/v1/model', '/healthz', '/readyz']) assert.ok(api.paths[p], p);
  });

  test('a new checkpoint swapped in serves new jobs; SIGHUP reloads the file', async () => {
    const before = await runJob(main.url, campaign());
    const swap = await fetch(`${main.url}/v1/model`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: d.model2 }) });
    assert.equal(swap.status, 200);
    const sha2 = await fileSha256(d.model2);
    assert.equal((await json<{ model: { sha256: string } }>(swap)).model.sha256, sha2);
    const afterSwap = await runJob(main.url, campaign());
    assert.equal((afterSwap.status.model as { sha256: string }).sha256, sha2);
    assert.ok(!afterSwap.csv.equals(before.csv), 'another model gives another audience');
    // the old job still reports (and serves) the model it ran on
    assert.equal((await json<{ model: { sha256: string } }>(await fetch(`${main.url}/v1/jobs/${before.id}`))).model.sha256, await fileSha256(d.model));
    // the file replaced on disk, then SIGHUP: the model at that path is loaded again
    copyFileSync(d.model, d.model2);
    main.proc.child.kill('SIGHUP');
    await main.proc.waitFor(/model swapped/);
    const deadline = Date.now() + 20000;
    let sha = '';
    while (Date.now() < deadline && sha !== (await fileSha256(d.model))) {
      sha = (await json<{ model: { sha256: string } }>(await fetch(`${main.url}/v1/model`))).model.sha256;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(sha, await fileSha256(d.model));
    assert.ok((await runJob(main.url, campaign())).csv.equals(ref.csv));
    // one log line per request and per job state change
    assert.ok(main.proc.lines.some((l) => /"msg":"request"/.test(l) && /"url":"\/v1\/campaigns"/.test(l) && /"status":202/.test(l)));
    for (const s of ['queued', 'adapting', 'scoring', 'done']) assert.ok(main.proc.lines.some((l) => l.includes(`"job":"${before.id}"`) && l.includes(`"state":"${s}"`)), s);
  });

  test('a token guards /v1; seeds per campaign and concurrent jobs are bounded', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    assert.equal((await post(guarded.url, campaign())).status, 401);
    assert.equal((await post(guarded.url, campaign(), { authorization: 'Bearer wrong-token-0123456789' })).status, 401);
    assert.equal((await fetch(`${guarded.url}/healthz`)).status, 200);
    const many = await post(guarded.url, campaign(), auth);
    assert.equal(many.status, 400);
    assert.match((await json<{ error: string }>(many)).error, /more than the limit of 3 per campaign/);
    const first = await post(guarded.url, campaign({ seeds: d.campaign.seeds.slice(0, 3) }), auth);
    assert.equal(first.status, 202);
    const second = await post(guarded.url, campaign({ seeds: d.campaign.seeds.slice(0, 3) }), auth);
    assert.equal(second.status, 429);
    const { id } = await json<{ id: string }>(first);
    assert.equal((await waitJob(guarded.url, id, auth)).state, 'done');
  });
});

test('binding off loopback needs a token from a file or the environment', () => {
  assert.ok(isLoopback('127.0.0.1') && isLoopback('127.8.0.1') && isLoopback('::1') && isLoopback('localhost'));
  assert.ok(!isLoopback('0.0.0.0') && !isLoopback('10.0.0.1') && !isLoopback('::'));
  assert.throws(() => resolveToken('0.0.0.0', undefined, {}), /binding to 0\.0\.0\.0 \(not loopback\) needs a bearer token: set METAHEAC_TOKEN or give --token-file/);
  assert.equal(resolveToken('127.0.0.1', undefined, {}), null);
  assert.equal(resolveToken('0.0.0.0', undefined, { METAHEAC_TOKEN: TOKEN }), TOKEN);
  assert.throws(() => resolveToken('0.0.0.0', undefined, { METAHEAC_TOKEN: 'short' }), /at least 16/);
  assert.throws(() => resolveToken('0.0.0.0', '/nonexistent/token', {}), /\/nonexistent\/token: cannot read the token file/);
});
