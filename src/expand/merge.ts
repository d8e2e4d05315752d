/**
 * Combining shard outputs (`expand --shard i/N`, each in its own folder) into the audience
 * of the whole pool: the top N over all shards, ties by uid, written by the same writers,
 * so the result equals an unsharded run byte for byte (summary.json: all but `seconds`).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Uid } from '../data/uid.js';
import { DataError, UserError } from '../util/errors.js';
import { AUDIENCE_CSV, audienceFrom, audienceUids, changedFile, readAudienceCsv, repeatedUid, type Audience } from './audience.js';
import { writeAudienceFolder } from './audience-folder.js';
import type { CampaignResult } from './expand.js';
import { checkOutDir, seedUidsOf } from './expand.js';
import { loadCampaignFile } from './campaign.js';
import { evaluateAudience, readTruth } from './quality.js';
import { audienceStats, histogramQuantiles, readSummary, SUMMARY_FILE, type ExpandSummary } from './summary.js';
import { TopN } from './top-n.js';

function campaignsIn(dir: string): string[] {
  if (!existsSync(dir)) throw new UserError(`${dir}: no such shard output directory`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, SUMMARY_FILE)))
    .map((e) => e.name)
    .sort();
}

/**
 * `truth` (synth's campaigns/truth.arrow) judges each merged audience as an unsharded
 * `expand --truth` run does; a campaign's seeds, which it leaves out, are read again from
 * the campaign file its summary names.
 */
function seedsOf(s: ExpandSummary): Set<Uid> {
  if (!existsSync(s.source)) throw new UserError(`${s.source}: campaign ${s.campaign}'s file, which merge --truth reads for its seeds (left out of its audience), is not there`);
  return seedUidsOf(loadCampaignFile(s.source));
}

/**
 * A shard's audience, refused when its folder's files disagree (a run interrupted between
 * them, files copied from two runs): the summary's row count and recorded file digests must
 * match its audience files.
 */
function readShardAudience(dir: string, s: ExpandSummary): Audience {
  const changed = s.files ? changedFile(dir, s.files) : null;
  if (changed) throw new DataError(`${dir}: ${changed}; the folder's files are not of one run, expand this shard again`);
  const a = readAudienceCsv(join(dir, AUDIENCE_CSV));
  if (a.uid.length !== s.audience.size) throw new DataError(`${dir}: ${AUDIENCE_CSV} holds ${a.uid.length} users, its ${SUMMARY_FILE} says ${s.audience.size}; the folder's files are not of one run, expand this shard again`);
  return a;
}

export async function mergeShards(dirs: string[], outDir: string, opts: { truth?: string } = {}): Promise<CampaignResult[]> {
  if (dirs.length === 0) throw new UserError('merge: no shard directories given');
  const names = campaignsIn(dirs[0]!);
  if (names.length === 0) throw new UserError(`${dirs[0]}: no campaign output (expected <campaign>/${SUMMARY_FILE})`);
  for (const d of dirs.slice(1)) {
    const other = campaignsIn(d);
    if (other.join('\n') !== names.join('\n')) throw new UserError(`${d}: holds campaigns [${other.join(', ')}], ${dirs[0]} holds [${names.join(', ')}]: shards of one run hold the same campaigns`);
  }
  const out = resolve(outDir);
  checkOutDir(out, names, [...dirs.flatMap((d) => names.map((n) => join(d, n))), opts.truth]);
  const truth = opts.truth ? readTruth(opts.truth) : null;
  const results: CampaignResult[] = [];
  for (const name of names) {
    const t0 = performance.now();
    const parts = dirs.map((d) => ({ dir: d, summary: readSummary(join(d, name, SUMMARY_FILE)) }));
    const first = parts[0]!.summary;
    const count = first.shard?.count;
    const seen = new Set<number>();
    for (const { dir, summary: s } of parts) {
      const where = join(dir, name, SUMMARY_FILE);
      if (!s.shard) throw new UserError(`${where}: not a shard (expanded over the whole pool; nothing to merge)`);
      if (s.shard.count !== count) throw new UserError(`${where}: shard ${s.shard.index}/${s.shard.count}, but ${dirs[0]} is one of ${count}`);
      if (seen.has(s.shard.index)) throw new UserError(`${where}: shard ${s.shard.index}/${count} given twice`);
      seen.add(s.shard.index);
      if (s.top !== first.top || s.includeSeeds !== first.includeSeeds || s.model !== first.model || s.users !== first.users || s.key !== first.key) {
        throw new UserError(`${where}: not from the same run as ${dirs[0]} (top, include-seeds, model, pool or campaign differ)`);
      }
    }
    if (seen.size !== count) {
      const absent = Array.from({ length: count! }, (_, i) => i).filter((i) => !seen.has(i));
      throw new UserError(`campaign ${name}: shard(s) ${absent.map((i) => `${i}/${count}`).join(', ')} missing; merging needs all ${count}`);
    }
    parts.sort((a, b) => a.summary.shard!.index - b.summary.shard!.index);
    const heap = new TopN(first.top);
    for (const { dir, summary: s } of parts) {
      const a = readShardAudience(join(dir, name), s);
      const uids = audienceUids(a);
      for (let i = 0; i < uids.length; i++) heap.push(a.score[i]!, uids[i]!);
    }
    const audience = audienceFrom(heap.sorted());
    const twice = repeatedUid(audience);
    if (twice !== undefined) throw new DataError(`campaign ${name}: uid ${twice} is in the audience of two shards (${dirs.join(', ')}); the pool has two rows for one user`);
    const histogram = first.pool.histogram.map((_, k) => parts.reduce((s, p) => s + p.summary.pool.histogram[k]!, 0));
    const base = parts[0]!.summary;
    const summary: ExpandSummary = {
      ...base,
      shard: null,
      pool: {
        scored: parts.reduce((s, p) => s + p.summary.pool.scored, 0),
        excludedSeeds: parts.reduce((s, p) => s + p.summary.pool.excludedSeeds, 0),
        quantiles: histogramQuantiles(histogram),
        histogram,
      },
      audience: audienceStats(audience),
      quality: truth ? evaluateAudience(truth, name, audience, base.includeSeeds ? new Set() : seedsOf(base)) : null,
      seconds: {
        adapt: Math.max(...parts.map((p) => p.summary.seconds.adapt)),
        score: parts.reduce((s, p) => s + p.summary.seconds.score, 0),
        write: 0,
      },
    };
    const dir = join(out, name);
    writeAudienceFolder(dir, audience, summary, t0);
    results.push({ name, dir, audience, summary });
  }
  return results;
}
