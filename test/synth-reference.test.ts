/**
 * The reference scorers of synth's planted structure (category-level and ad-agnostic):
 * their formulas on the world's own parameters, the columns they fill, and the guarantee
 * that adding them changed none of the generated rows or true probabilities.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPart } from '../src/data/dataset.js';
import { STANDARD_PARTS } from '../src/data/part.js';
import { synthesize } from '../src/data/synth.js';
import { readTruth } from '../src/expand/quality.js';
import { tempDir } from './helpers/fixtures.js';

/** sha256 of what synth generated before the reference scorers: every part's rows, p_true and uid, the user table and each campaign's truth. */
async function generatedHash(dir: string, campaignCols: string[]): Promise<string> {
  const h = createHash('sha256');
  const add = (a: ArrayBufferView) => h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  for (const name of STANDARD_PARTS) {
    const p = await loadPart(join(dir, `${name}.arrow`));
    for (const a of [p.label, p.aid, p.single, p.multi, p.multiLen, p.task, p.extra.p_true!, p.extra.uid!]) add(a);
  }
  h.update(readFileSync(join(dir, 'users.arrow')));
  const t = readTruth(join(dir, 'campaigns', 'truth.arrow'));
  add(t.uid);
  for (const c of campaignCols) add(t.table.getChild(c)!.toArray() as Float32Array);
  return h.digest('hex');
}

test('the generated rows, p_true and the truth of every campaign are those of before the reference scorers', async (t) => {
  const dir = tempDir(t);
  const hashes: string[] = [];
  for (const seed of [2021, 7]) {
    const s = await synthesize({ out: join(dir, String(seed)), preset: 'tiny', seed });
    const names = s.campaigns.files.map((f) => f.replace(/^.*[\\/]/, '').replace(/\.yaml$/, ''));
    hashes.push(await generatedHash(join(dir, String(seed)), names));
  }
  // pinned before the reference scorers were added (tiny preset, seeds 2021 and 7)
  assert.deepEqual(hashes, ['02966270b170c53896d245cf9af9319e16bcc9f3246f7ef311182717785b9031', 'f4bf881c10e12cfc3845bd4dcb9432df3b347b7e11d79f0a9ac9d792534bf4d7']);
});
