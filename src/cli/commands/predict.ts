import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import { loadPart, modelSchema, partSchema } from '../../data/dataset.js';
import { buildLayout, checkModelFits } from '../../model/layout.js';
import { predictRows } from '../../meta/adapt.js';
import { checkpointShape, paramsFromCheckpoint } from '../../meta/model-setup.js';
import { createOps } from '../../kernels/index.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { DataError } from '../../util/errors.js';
import { checkOutputFile } from '../../util/output-paths.js';
import { nonNegativeIntArg, positiveIntArg } from '../args.js';
import { progressBar } from '../progress.js';

interface PredictOpts {
  model: string;
  data: string;
  out: string;
  config?: string;
  batchSize: number;
  threads: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('predict')
    .description('score every row of a part with the general model (no adaptation), in row order: for checking against other implementations')
    .requiredOption('--model <ckpt>', 'checkpoint (.safetensors; or a torch.save / .pdparams file with --config)')
    .requiredOption('--data <part>', 'a part file (.arrow) with schema.json beside it or in its parent')
    .requiredOption('--out <csv>', 'output CSV: row,aid,label,p')
    .option('--config <file>', 'config giving the model hyper-parameters (default: those stored in the checkpoint)')
    .option('--batch-size <n>', 'rows per forward batch', positiveIntArg, 4096)
    .option('--threads <n>', 'worker threads (0 = one per core)', nonNegativeIntArg, 0)
    .option('--json', 'print a summary as JSON')
    .action(async (opts: PredictOpts) => {
      checkOutputFile(opts.out, '--out', [opts.data, opts.model, ...(opts.config ? [opts.config] : [])]);
      const { dims, maxIdxs } = checkpointShape(opts.model, opts.config ? loadConfig(opts.config) : null);
      // the checkpoint's table sizes, which may exceed the data's largest ids (config max_idxs);
      // from schema.json, so a model or batch too large is refused before the data is read
      const L = buildLayout(modelSchema(partSchema(opts.data), maxIdxs, opts.model, opts.data), dims);
      checkModelFits(L, opts.batchSize, '--batch-size', opts.model);
      const part = await loadPart(opts.data, progressBar);
      const ops = await createOps(opts.threads);
      try {
        const { params } = paramsFromCheckpoint(ops, L, opts.model);
        const p = new Float32Array(part.nRows);
        predictRows(ops, params, part, opts.batchSize, p);
        const bad = p.findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) throw new DataError(`${opts.model}: scores row ${bad} of ${opts.data} as ${p[bad]}; nothing written to ${opts.out}`);
        const lines: string[] = ['row,aid,label,p\n'];
        for (let i = 0; i < part.nRows; i++) lines.push(`${i},${part.aid[i]},${part.label[i]},${p[i]}\n`);
        writeFileAtomic(opts.out, lines.join(''));
        const summary = { rows: part.nRows, out: opts.out, meanP: p.reduce((s, x) => s + x, 0) / Math.max(1, part.nRows) };
        process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `wrote ${part.nRows} predictions to ${opts.out}\n`);
      } finally {
        await ops.close();
      }
    });
}
