/**
 * The planted structure of the synthetic data. Users have latent vectors z from which
 * their ids are drawn; campaigns belong to latent categories, visible through their task
 * fields, and respond with
 *
 *   logit = b_a + (w_cat + eps_a) . z + tau_s g_cat(single id) + tau_m mean_j g_cat(list id j)
 *
 * where g_cat is a fixed pseudo-random score per (id, category): a dependence only the
 * ids reveal. A meta-learned model can learn the category preferences across campaigns
 * and needs only a few seeds to fit a campaign's own eps_a, which is what makes the cold
 * campaigns the interesting ones.
 *
 * Beside the truth, two weaker reference scorers mark how much of the gap between chance
 * and the truth is within reach: the category-level scorer knows the campaign's category
 * but none of its own parameters (what can be known of a campaign before its seeds), and
 * the ad-agnostic one ignores the ad altogether.
 */
import { Rng } from '../util/rng.js';
import type { PartData } from './part.js';
import { multiOffsets, multiStride, maxLength, type Schema } from './schema.js';
import type { LengthSpec, SynthPreset } from './synth-presets.js';

/** Latent dimension of users and preferences. */
const DIM = 8;
/** Spread of the single-field projection noise. */
const SINGLE_NOISE = 0.5;
/** Buckets of a single field's latent projection. */
const SINGLE_BUCKETS = 12;
/** Clusters of a multi-valued field's vocabulary, each favoured by a direction in z. */
const CLUSTERS = 16;
/** Sharpness of cluster choice given z. */
const CLUSTER_BETA = 1.5;
/** Zipf exponent of id popularity within a bucket or cluster: heavy-tailed. */
const ZIPF_S = 1.1;
const CATEGORY_NORM = 1.6;
const CAMPAIGN_SIGMA = 0.7;
const TAU_SINGLE = 0.5;
const TAU_MULTI = 0.8;
/** Campaign size spread (lognormal sigma): heavy tail, so test campaigns split hot/cold. */
const SIZE_SIGMA = 1.2;
const BASE_RATE = 0.052;

/** Inverse-CDF sampler of ranks 0..n-1 with P(r) proportional to (r+1)^-s. */
class Zipf {
  private readonly cdf: Float64Array;

  constructor(n: number, s: number) {
    this.cdf = new Float64Array(n);
    let acc = 0;
    for (let r = 0; r < n; r++) this.cdf[r] = acc += (r + 1) ** -s;
    for (let r = 0; r < n; r++) this.cdf[r]! /= acc;
  }

  sample(rng: Rng): number {
    const u = rng.float();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

function unitVector(rng: Rng, scale = 1): Float64Array {
  const v = new Float64Array(DIM);
  let n = 0;
  for (let i = 0; i < DIM; i++) n += (v[i] = rng.normal()) ** 2;
  n = Math.sqrt(n);
  for (let i = 0; i < DIM; i++) v[i] = (v[i]! / n) * scale;
  return v;
}

function gaussianVector(rng: Rng, sd: number): Float64Array {
  return Float64Array.from({ length: DIM }, () => rng.normal() * sd);
}

function dot(a: Float64Array, b: Float64Array, bOff = 0): number {
  let s = 0;
  for (let i = 0; i < DIM; i++) s += a[i]! * b[bOff + i]!;
  return s;
}

function permutation(rng: Rng, n: number): Int32Array {
  return rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** A uniform-variance score in [-sqrt3, sqrt3] per (id, category), from an integer hash. */
function idScore(salt: number, id: number, cat: number): number {
  let h = Math.imul(id ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(cat + 1, 0x85ebca6b) ^ salt;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  h ^= h >>> 16;
  return ((h >>> 0) / 4294967296 - 0.5) * 2 * Math.sqrt(3);
}

interface SingleField {
  vocab: number;
  dir: Float64Array;
  buckets: number;
  /** Ranks within a bucket, when the vocabulary is larger than the buckets. */
  zipf: Zipf | null;
  perm: Int32Array;
}

interface MultiField {
  vocab: number;
  width: number;
  cap: number;
  len: LengthSpec;
  clusters: number;
  /** clusters x DIM directions. */
  centers: Float64Array;
  zipf: Zipf;
  /** Id 0 is the padding id; real ids are perm[1..vocab-1]. */
  perm: Int32Array;
}

/** A latent category: what the category-level scorer knows of a campaign. */
export interface Category {
  /** The preference w_cat the category's campaigns spread around. */
  pref: Float64Array;
  /** The bias of a typical campaign of the category (see makeCampaigns). */
  bias: number;
  /** Prior probability that a campaign is of this category. */
  weight: number;
}

export interface Campaign {
  aid: number;
  category: number;
  taskIds: Int32Array;
  pref: Float64Array;
  bias: number;
  /** Stage-1 and stage-2 row counts. */
  n1: number;
  n2: number;
  test: boolean;
}

/** Latent dimension of users, exported for callers that keep users' latent vectors. */
export const LATENT_DIM = DIM;

export class SynthWorld {
  readonly schema: Schema;
  readonly campaigns: Campaign[];
  readonly categories: Category[];
  private readonly singles: SingleField[];
  private readonly multis: MultiField[];
  /** The fields whose ids carry the id-only signal: largest single and multi vocabularies. */
  private readonly idSingle: number;
  private readonly idMulti: number;
  private readonly salt: number;
  private readonly z = new Float64Array(DIM);
  private readonly clusterCdf = new Float64Array(CLUSTERS);

  constructor(preset: SynthPreset, seed: number, scale: number) {
    const rng = new Rng(seed);
    const s = preset.schema;
    this.schema = s;
    this.salt = rng.uint32() | 0;
    this.singles = s.userSingle.map((f) => {
      const vocab = f.maxIdx + 1;
      const buckets = Math.min(vocab, SINGLE_BUCKETS);
      const zipf = vocab > buckets ? new Zipf(Math.ceil(vocab / buckets), ZIPF_S) : null;
      return { vocab, dir: unitVector(rng), buckets, zipf, perm: zipf ? permutation(rng, vocab) : new Int32Array(0) };
    });
    this.multis = s.userMulti.map((f, i) => {
      const vocab = f.maxIdx + 1;
      const clusters = Math.max(1, Math.min(CLUSTERS, vocab - 1));
      const centers = new Float64Array(clusters * DIM);
      for (let c = 0; c < clusters; c++) centers.set(unitVector(rng), c * DIM);
      const perm = permutation(rng, vocab - 1).map((x) => x + 1);
      return {
        vocab,
        width: f.width,
        cap: maxLength(f),
        len: preset.lengths[i] ?? { pEmpty: 0.1, mean: 0.6 * f.width },
        clusters,
        centers,
        zipf: new Zipf(Math.max(1, Math.ceil((vocab - 1) / clusters)), ZIPF_S),
        perm: Int32Array.from([0, ...perm]),
      };
    });
    const argmax = (xs: number[]): number => (xs.length ? xs.indexOf(Math.max(...xs)) : -1);
    this.idSingle = argmax(this.singles.map((f) => f.vocab));
    this.idMulti = argmax(this.multis.map((f) => f.vocab));
    ({ campaigns: this.campaigns, categories: this.categories } = this.makeCampaigns(preset, rng, scale));
  }

  private makeCampaigns(p: SynthPreset, rng: Rng, scale: number): { campaigns: Campaign[]; categories: Category[] } {
    const C = p.categories;
    const catPref = Array.from({ length: C }, () => gaussianVector(rng, CATEGORY_NORM / Math.sqrt(DIM)));
    const catWeight = Array.from({ length: C }, (_, c) => 1 / Math.sqrt(c + 1));
    const catTotal = catWeight.reduce((a, b) => a + b, 0);
    const sizeWeight = Array.from({ length: p.campaigns }, () => Math.exp(SIZE_SIGMA * rng.normal()));
    const sizeTotal = sizeWeight.reduce((a, b) => a + b, 0);
    const order = permutation(rng, p.campaigns);
    const isTest = new Uint8Array(p.campaigns);
    for (let i = Math.floor(p.campaigns / 2); i < p.campaigns; i++) isTest[order[i]!] = 1;
    // Expected logit variance beyond the bias, for the probit-style rate correction below.
    const idVar = (this.idSingle >= 0 ? TAU_SINGLE ** 2 : 0) + (this.idMulti >= 0 ? TAU_MULTI ** 2 / 3 : 0);
    // E[sigmoid(b + x)] for x ~ N(0, v) is about sigmoid(b / sqrt(1 + pi v / 8)).
    const rateBias = (rate: number, v: number): number => Math.log(rate / (1 - rate)) * Math.sqrt(1 + (Math.PI * v) / 8);
    // A category's typical campaign: the median rate, BASE_RATE (the rate's spread is
    // symmetric in the log and the clamp leaves the median alone), at the category's expected
    // logit variance |w_cat|^2 + CAMPAIGN_SIGMA^2 + idVar (E|eps_a|^2 = CAMPAIGN_SIGMA^2): the
    // bias that keeps the category's mean response near BASE_RATE. The mean of its campaigns'
    // biases would also do, but it depends on the rate spread, which the scorer cannot know.
    const categories = catPref.map((pref, c) => ({ pref, bias: rateBias(BASE_RATE, dot(pref, pref) + CAMPAIGN_SIGMA ** 2 + idVar), weight: catWeight[c]! / catTotal }));
    const campaigns = sizeWeight.map((w, a) => {
      let u = rng.float() * catTotal;
      let category = 0;
      while (category < C - 1 && (u -= catWeight[category]!) >= 0) category++;
      const taskIds = Int32Array.from(this.schema.task, (f) => {
        const vocab = f.maxIdx + 1;
        if (rng.float() < 0.15) return rng.int(vocab);
        // Category-specific ids: those congruent to the category, or one id when few.
        if (vocab < C) return category % vocab;
        return category + C * rng.int(Math.floor((vocab - 1 - category) / C) + 1);
      });
      const pref = gaussianVector(rng, CAMPAIGN_SIGMA / Math.sqrt(DIM));
      for (let i = 0; i < DIM; i++) pref[i]! += catPref[category]![i]!;
      const rate = Math.min(0.25, Math.max(0.01, BASE_RATE * Math.exp(0.5 * rng.normal())));
      const bias = rateBias(rate, dot(pref, pref) + idVar);
      const n1 = Math.max(10, Math.round((p.stage1Rows * scale * w) / sizeTotal));
      return { aid: a + 1, category, taskIds, pref, bias, n1, n2: Math.max(10, Math.round(p.minStage2 * scale), Math.round(n1 * p.stage2Ratio)), test: isTest[a] === 1 };
    });
    return { campaigns, categories };
  }

  /** Draw one (user, campaign) row into row `r` of `d`; returns the true response probability. */
  drawRow(rng: Rng, c: Campaign, d: PartData, r: number): number {
    this.drawUser(rng, d, r);
    d.aid[r] = c.aid;
    d.task.set(c.taskIds, r * c.taskIds.length);
    const p = this.pTrue(c, this.z, d, r);
    d.label[r] = rng.float() < p ? 1 : 0;
    return p;
  }

  /** The latent vector of the user drawn last (DIM values; overwritten by the next draw). */
  get lastZ(): Float64Array {
    return this.z;
  }

  /** Draw a user into row `r` of `d`: its latent vector (see lastZ), then its ids. */
  drawUser(rng: Rng, d: PartData, r: number): void {
    const z = this.z;
    for (let i = 0; i < DIM; i++) z[i] = rng.normal();
    const ns = this.singles.length;
    for (let f = 0; f < ns; f++) d.single[r * ns + f] = this.drawSingle(rng, this.singles[f]!);
    const s = this.schema;
    const stride = multiStride(s);
    const offs = multiOffsets(s);
    const nm = this.multis.length;
    for (let f = 0; f < nm; f++) d.multiLen[r * nm + f] = this.drawList(rng, this.multis[f]!, d.multi, r * stride + offs[f]!);
  }

  /** Campaign `c`'s true response probability for the user with latent `z` and the ids of row `r` of `d`. */
  pTrue(c: Campaign, z: Float64Array, d: PartData, r: number, zOff = 0): number {
    return sigmoid(this.withIdScores(c.bias + dot(c.pref, z, zOff), c.category, d, r));
  }

  /**
   * The category-level scorer: category `k`'s typical campaign in place of the campaign,
   * sigmoid(b_cat + w_cat . z + the id terms, which depend on the category alone).
   */
  pCategory(k: number, z: Float64Array, d: PartData, r: number, zOff = 0): number {
    const cat = this.categories[k]!;
    return sigmoid(this.withIdScores(cat.bias + dot(cat.pref, z, zOff), k, d, r));
  }

  /**
   * Every category's pCategory into `out` (one per category); returns the ad-agnostic score,
   * their mean under the categories' prior: about the best a score can do that ignores the ad.
   */
  pCategories(z: Float64Array, d: PartData, r: number, out: Float64Array, zOff = 0): number {
    let p = 0;
    for (let k = 0; k < this.categories.length; k++) p += this.categories[k]!.weight * (out[k] = this.pCategory(k, z, d, r, zOff));
    return p;
  }

  /** `logit` plus category `cat`'s id terms of row `r`, added in this order (p_true's bits depend on it). */
  private withIdScores(logit: number, cat: number, d: PartData, r: number): number {
    const ns = this.singles.length;
    if (this.idSingle >= 0) logit += TAU_SINGLE * idScore(this.salt, d.single[r * ns + this.idSingle]!, cat);
    const f = this.idMulti;
    if (f >= 0) {
      const base = r * multiStride(this.schema) + multiOffsets(this.schema)[f]!;
      const k = Math.min(d.multiLen[r * this.multis.length + f]!, this.multis[f]!.width);
      let g = 0;
      for (let j = 0; j < k; j++) g += idScore(this.salt ^ 0x2545f491, d.multi[base + j]!, cat);
      if (k > 0) logit += (TAU_MULTI * g) / k;
    }
    return logit;
  }

  private drawSingle(rng: Rng, f: SingleField): number {
    const t = dot(f.dir, this.z) + SINGLE_NOISE * rng.normal();
    // 1.702 x / sd makes the logistic close to the normal CDF: buckets near equally full.
    const q = sigmoid((1.702 * t) / Math.sqrt(1 + SINGLE_NOISE ** 2));
    const b = Math.min(f.buckets - 1, Math.floor(q * f.buckets));
    if (!f.zipf) return b;
    for (;;) {
      const id = b + f.buckets * f.zipf.sample(rng);
      if (id < f.vocab) return f.perm[id]!;
    }
  }

  /** Fill `width` slots at `dst[base..]` (padding with id 0) and return the drawn `len`. */
  private drawList(rng: Rng, f: MultiField, dst: Int32Array, base: number): number {
    const len = rng.float() < f.len.pEmpty ? 0 : Math.min(f.cap, 1 + poisson(rng, f.len.mean - 1));
    const k = Math.min(len, f.width);
    dst.fill(0, base, base + f.width);
    if (k === 0 || f.vocab < 2) return len;
    const cdf = this.clusterCdf;
    let acc = 0;
    for (let c = 0; c < f.clusters; c++) cdf[c] = acc += Math.exp(CLUSTER_BETA * dot(this.z, f.centers, c * DIM));
    for (let j = 0; j < k; j++) {
      // A few retries keep list ids distinct, as in the real data, without looping forever on tiny vocabularies.
      for (let attempt = 0; attempt < 8; attempt++) {
        const u = rng.float() * acc;
        let c = 0;
        while (c < f.clusters - 1 && cdf[c]! <= u) c++;
        const idx = 1 + c + f.clusters * f.zipf.sample(rng);
        if (idx >= f.vocab) continue;
        const id = f.perm[idx]!;
        dst[base + j] = id;
        let dup = false;
        for (let i = 0; i < j; i++) if (dst[base + i] === id) dup = true;
        if (!dup) break;
      }
      if (dst[base + j] === 0) dst[base + j] = f.perm[1]!;
    }
    return len;
  }
}

/** Knuth's Poisson sampler; means here are below 10. */
function poisson(rng: Rng, mean: number): number {
  if (mean <= 0) return 0;
  const l = Math.exp(-mean);
  let k = 0;
  let p = rng.float();
  while (p > l) {
    k++;
    p *= rng.float();
  }
  return k;
}
