/**
 * Audience quality by recipe, on planted data of several seeds (`npm run bench --
 * audience-quality [--seeds 101,102,103,104,105] [--recipes paper,validation,...] [--scale 1]
 * [--per-split 5] [--top 1000] [--resume]`). For every seed a fresh `synth --preset demo` dataset; for
 * every recipe a model trained and evaluated on it: pooled AUC and GAUC of the hot and cold
 * test campaigns (what `infer` reports), and on `per-split` campaigns of each split the
 * expanded audience's recall@N and lift@N (its expected response rate over the pool's),
 * beside the truth and synth's two reference scorers. `gapClosed` is the share of the way from
 * the paper's recipe to the category-level scorer that a recipe covers. The seeds default to
 * ones the recipes were never tuned on.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type LoadedConfig } from '../src/config/config.js';
import { CAMPAIGNS_DIR, synthesize, TRUTH_FILE } from '../src/data/synth.js';
import { REFERENCE_LABEL, REFERENCES } from '../src/data/reference.js';
import { compareOnTruth, loadCampaignFile, readExamples } from '../src/expand/index.js';
import { createOps } from '../src/kernels/index.js';
import type { Ops } from '../src/model/ops.js';
import { defaultCheckpoint, runTrain } from '../src/pipeline/run-train.js';
import { runInfer } from '../src/pipeline/run-infer.js';
import type { SplitResult } from '../src/eval/evaluate.js';

const CONFIG = (name: string) => fileURLToPath(new URL(`../../configs/${name}.yaml`, import.meta.url));

/** Each recipe: a config and the overrides that make it (every ingredient alone on top of the paper's recipe). */
const RECIPES: Record<string, { config: string; overrides: string[] }> = {
  paper: { config: 'demo-paper', overrides: [] },
  validation: { config: 'demo-paper', overrides: ['runner.epochs=3', 'runner.validation.share=0.2', 'runner.validation.holdout=0.5', 'runner.validation.interval=50', 'runner.validation.patience=4', 'runner.validation.smoothing=3', 'runner.validation.refit=true'] },
  dropout: { config: 'demo-paper', overrides: ['hyper_parameters.regularization.dropout=0.2', 'hyper_parameters.regularization.critic_dropout=0.1'] },
  'cv-adaptation': { config: 'demo-paper', overrides: ['hyper_parameters.adaptation.select=cv', 'hyper_parameters.adaptation.epochs=[1,2,3,5]'] },
  default: { config: 'demo', overrides: [] },
};

const SPLITS = ['hot', 'cold'] as const;

interface Scores {
  auc: number;
  gauc: number;
  /** The truth's: the expected response rate of its top N over the pool's. */
  lift?: number;
}

interface SplitRow extends Scores {
  recall: number;
  lift: number;
}

/** `k` campaigns of a split evenly spaced over their seed counts (one without seeds cannot be expanded). */
function campaignsOf(data: string, split: string, k: number): string[] {
  const dir = join(data, CAMPAIGNS_DIR);
  const files = readdirSync(dir).filter((f) => f.startsWith(`${split}_`) && f.endsWith('.yaml'));
  const seeds = (f: string) => {
    const c = loadCampaignFile(join(dir, f));
    return readExamples((c.examples as { file: string }).file).label.reduce<number>((a, l) => a + l, 0);
  };
  const ranked = files.map((f) => [f, seeds(f)] as const).filter(([, n]) => n > 0).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  const n = Math.min(k, ranked.length);
  return Array.from({ length: n }, (_, i) => join(dir, ranked[n === 1 ? 0 : Math.round((i * (ranked.length - 1)) / (n - 1))]![0]));
}

/** What a finished run of a recipe wrote: its infer results and times (reused by --resume when the recipe is the same). */
interface RunStamp {
  recipe: unknown;
  splits: SplitResult[];
  seconds: { train: number; infer: number };
  /** The expansions' judgement, by split, once made for this top N and campaigns. */
  judged?: { key: string; rows: Record<string, { splits: Record<string, SplitRow>; refs: Record<string, Record<string, Scores>> }> };
}

const stampPath = (cfg: LoadedConfig) => join(cfg.runner.model_save_path, 'bench-run.json');

async function trainAndInfer(cfg: LoadedConfig, ops: Ops, recipe: unknown, resume: boolean): Promise<RunStamp> {
  const stamp = stampPath(cfg);
  if (resume && existsSync(stamp)) {
    const old = JSON.parse(readFileSync(stamp, 'utf8')) as RunStamp;
    if (JSON.stringify(old.recipe) === JSON.stringify(recipe)) return old;
  }
  rmSync(cfg.runner.model_save_path, { recursive: true, force: true });
  mkdirSync(cfg.runner.model_save_path, { recursive: true });
  const t0 = performance.now();
  await runTrain(cfg, ops);
  const t1 = performance.now();
  const [res] = await runInfer(cfg, ops);
  const t2 = performance.now();
  const run: RunStamp = { recipe, splits: res!.splits, seconds: { train: (t1 - t0) / 1000, infer: (t2 - t1) / 1000 } };
  writeFileSync(stamp, JSON.stringify(run));
  return run;
}

async function runRecipe(cfg: LoadedConfig, ops: Ops, data: string, perSplit: number, top: number, recipe: unknown, resume: boolean): Promise<{ splits: Record<string, SplitRow>; refs: Record<string, Record<string, Scores>>; seconds: { train: number; infer: number } }> {
  const res = await trainAndInfer(cfg, ops, recipe, resume);
  const key = JSON.stringify({ perSplit, top });
  if (res.judged?.key === key) return { ...res.judged.rows.all!, seconds: res.seconds };
  const splits: Record<string, SplitRow> = {};
  const refs: Record<string, Record<string, Scores>> = {};
  for (const s of res.splits) {
    const cs = await compareOnTruth({ config: cfg, arms: [{ name: 'model', model: defaultCheckpoint(cfg), adapt: true }], campaigns: campaignsOf(data, s.name, perSplit), truth: join(data, CAMPAIGNS_DIR, TRUTH_FILE), top, ops });
    const mean = (f: (c: (typeof cs)[number]) => number) => cs.reduce((a, c) => a + f(c), 0) / cs.length;
    const row = (name: string) => (c: (typeof cs)[number]) => c.rows.find((r) => r.name === name)!;
    splits[s.name] = { auc: s.auc, gauc: s.gauc, recall: mean((c) => row('model')(c).recall), lift: mean((c) => row('model')(c).precision / row('random')(c).precision) };
    const lift = (name: string) => mean((c) => row(name)(c).precision / row('random')(c).precision);
    // the reference scorers, with the lift of their own top N where the truth has their columns
    const ref: Record<string, Scores> = {};
    for (const k of REFERENCES) {
      const m = s.reference?.[k];
      if (m) ref[k] = cs[0]?.rows.some((r) => r.name === REFERENCE_LABEL[k]) ? { ...m, lift: lift(REFERENCE_LABEL[k]) } : m;
    }
    refs[s.name] = { truth: { ...(s.oracle ?? { auc: NaN, gauc: NaN }), lift: lift('oracle') }, ...ref };
  }
  writeFileSync(stampPath(cfg), JSON.stringify({ ...res, judged: { key, rows: { all: { splits, refs } } } }));
  return { splits, refs, seconds: res.seconds };
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

export async function bench(flags: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const seeds = (flags.seeds ?? '101,102,103,104,105').split(',').map(Number);
  const recipes = (flags.recipes ?? 'paper,validation,cv-adaptation,default').split(',');
  for (const r of recipes) if (!RECIPES[r]) throw new Error(`unknown recipe "${r}" (expected ${Object.keys(RECIPES).join(', ')})`);
  const scale = Number(flags.scale ?? 1);
  const perSplit = Number(flags['per-split'] ?? 5);
  const top = Number(flags.top ?? 1000);
  const root = fileURLToPath(new URL('../../output/bench-quality/', import.meta.url));
  const ops = await createOps(0);
  const perSeed: Record<string, unknown>[] = [];
  try {
    for (const seed of seeds) {
      const data = join(root, `data-${seed}-${scale}`);
      if (!existsSync(join(data, CAMPAIGNS_DIR, TRUTH_FILE))) await synthesize({ out: data, preset: 'demo', seed, scale });
      const entry: Record<string, unknown> = { seed };
      for (const name of recipes) {
        const out = join(root, `run-${seed}-${scale}`, name);
        const r = RECIPES[name]!;
        const cfg = loadConfig(CONFIG(r.config), [...r.overrides, `runner.train_data_dir=${data}`, `runner.test_data_dir=${data}`, `runner.model_save_path=${out}`, `runner.infer_load_path=${out}`]);
        process.stderr.write(`  seed ${seed}, recipe ${name}\n`);
        // a recipe is its config file's text and its overrides: --resume reuses a finished run of the same recipe
        entry[name] = await runRecipe(cfg, ops, data, perSplit, top, { text: readFileSync(CONFIG(r.config), 'utf8'), overrides: r.overrides }, flags.resume !== undefined);
      }
      perSeed.push(entry);
    }
  } finally {
    await ops.close();
  }
  // means over seeds, and the share of the paper-to-category gap each recipe closes
  type Run = Awaited<ReturnType<typeof runRecipe>>;
  const meanOf = (f: (e: Record<string, unknown>) => number) => perSeed.reduce((a, e) => a + f(e), 0) / perSeed.length;
  const table: Record<string, unknown> = {};
  for (const split of SPLITS) {
    const rows: Record<string, unknown> = {};
    const refNames = Object.keys((perSeed[0]![recipes[0]!] as Run).refs[split] ?? {});
    const refMean = (ref: string, k: keyof Scores) => r4(meanOf((e) => (e[recipes[0]!] as Run).refs[split]![ref]![k] ?? NaN));
    for (const ref of refNames) rows[ref] = { auc: refMean(ref, 'auc'), gauc: refMean(ref, 'gauc'), lift: refMean(ref, 'lift') };
    const cat = refNames.includes('category') ? meanOf((e) => (e[recipes[0]!] as Run).refs[split]!.category!.auc) : NaN;
    const paper = recipes.includes('paper') ? meanOf((e) => (e.paper as Run).splits[split]!.auc) : NaN;
    for (const name of recipes) {
      const m = (k: keyof SplitRow) => meanOf((e) => (e[name] as Run).splits[split]![k]);
      rows[name] = { auc: r4(m('auc')), gauc: r4(m('gauc')), recall: r4(m('recall')), lift: r4(m('lift')), gapClosed: r4((m('auc') - paper) / (cat - paper)), seconds: r4(meanOf((e) => (e[name] as Run).seconds.train + (e[name] as Run).seconds.infer)) };
    }
    table[split] = rows;
  }
  return { seeds, scale, top, perSplit, mean: table, perSeed };
}
