/**
 * Quality of expanded audiences on the demo's synthetic data (after `npm start`, which
 * generates data/demo and trains output/demo/{meta,nometa}): per split, the mean over test
 * campaigns of recall@N (share of the truly best N users in the audience) and of the
 * audience's expected response rate, for MetaHeac, the no-meta baseline, the unadapted
 * general model, a random audience and the oracle (`npm run bench -- audience-quality
 * [--per-split K] [--top N]`; K campaigns per split, evenly spaced in seed count).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/config.js';
import { CAMPAIGNS_DIR, TRUTH_FILE } from '../src/data/synth.js';
import { compareOnTruth, loadCampaignFile, meanComparison, readExamples } from '../src/expand/index.js';
import { createOps } from '../src/kernels/index.js';
import { checkpointPath } from '../src/pipeline/run-train.js';

export async function bench(flags: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const cfg = loadConfig(fileURLToPath(new URL('../../configs/demo.yaml', import.meta.url)));
  const data = cfg.runner.train_data_dir!;
  const ck = (sub: string) => checkpointPath(join(cfg.runner.model_save_path, sub), 0);
  const truth = join(data, CAMPAIGNS_DIR, TRUTH_FILE);
  if (!existsSync(truth) || !existsSync(ck('meta')) || !existsSync(ck('nometa'))) return { skipped: `needs the demo's data and models: run npm start first (${truth}, ${ck('meta')}, ${ck('nometa')})` };
  const perSplit = Number(flags['per-split'] ?? 10);
  const top = Number(flags.top ?? 1000);
  const ops = await createOps(cfg.runner.threads);
  const out: Record<string, unknown> = { top, perSplit };
  try {
    for (const split of ['hot', 'cold']) {
      const dir = join(data, CAMPAIGNS_DIR);
      const files = readdirSync(dir).filter((f) => f.startsWith(`${split}_`) && f.endsWith('.yaml')).sort();
      const seeds = (f: string) => {
        const c = loadCampaignFile(join(dir, f));
        return readExamples((c.examples as { file: string }).file).label.reduce<number>((a, l) => a + l, 0);
      };
      // evenly spaced over the campaigns ranked by seeds: small and large seed sets alike
      // (a campaign without any seed in its stage 1 cannot be expanded)
      const ranked = files.map((f) => [f, seeds(f)] as const).filter(([, n]) => n > 0).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
      const k = Math.min(perSplit, ranked.length);
      const chosen = Array.from({ length: k }, (_, i) => ranked[k === 1 ? 0 : Math.round((i * (ranked.length - 1)) / (k - 1))]!);
      process.stderr.write(`  ${split}: ${chosen.length} campaigns\n`);
      const t0 = performance.now();
      const cs = await compareOnTruth({
        config: cfg,
        arms: [
          { name: 'MetaHeac', model: ck('meta'), adapt: true },
          { name: 'no-meta', model: ck('nometa'), adapt: true },
          { name: 'unadapted', model: ck('meta'), adapt: false },
        ],
        campaigns: chosen.map(([f]) => join(dir, f)),
        truth,
        top,
        ops,
      });
      out[split] = {
        campaigns: cs.length,
        seedsMedian: chosen.map((c) => c[1]).sort((a, b) => a - b)[Math.floor(chosen.length / 2)],
        seconds: Math.round((performance.now() - t0) / 100) / 10,
        mean: meanComparison(cs).map((r) => ({ name: r.name, recall: Math.round(r.recall * 1e4) / 1e4, precision: Math.round(r.precision * 1e4) / 1e4 })),
      };
    }
  } finally {
    await ops.close();
  }
  return out;
}
