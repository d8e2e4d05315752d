/** `metaheac meta-grad`: the meta-gradient of one meta-step for given tasks, for diffing with another implementation. */
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import { loadPart, modelSchema } from '../../data/dataset.js';
import { schemaToJson, type Schema } from '../../data/schema.js';
import { saveCheckpoint } from '../../model/checkpoint.js';
import { buildLayout } from '../../model/layout.js';
import { JsOps, type Ops } from '../../model/ops.js';
import { metaGradient } from '../../meta/meta-grad.js';
import { checkpointShape, paramsFromCheckpoint } from '../../meta/model-setup.js';
import { createOps } from '../../kernels/index.js';
import { UserError } from '../../util/errors.js';
import { checkOutputFile } from '../../util/output-paths.js';
import { nonNegativeIntArg, positiveNumberArg } from '../args.js';
import { progressBar } from '../progress.js';

interface MetaGradOpts {
  model: string;
  support: string[];
  query: string[];
  order: 1 | 2;
  localLr: number;
  out: string;
  config?: string;
  reference?: boolean;
  threads: number;
  json?: boolean;
}

function listArg(v: string): string[] {
  const xs = v.split(',').map((s) => s.trim());
  if (xs.some((s) => s === '')) throw new InvalidArgumentError(`expected comma-separated part files, got "${v}"`);
  return xs;
}

function orderArg(v: string): 1 | 2 {
  if (v !== '1' && v !== '2') throw new InvalidArgumentError(`expected 1 or 2, got "${v}"`);
  return v === '1' ? 1 : 2;
}

export function register(program: Command): void {
  program
    .command('meta-grad')
    .description('the meta-gradient of one meta-step for the given tasks (one support and one query part each, in order), averaged, under the official parameter names')
    .requiredOption('--model <ckpt>', 'weights θ (.safetensors checkpoint; or a torch.save / .pdparams file with --config)')
    .requiredOption('--support <parts>', 'support part of each task (.arrow), comma-separated', listArg)
    .requiredOption('--query <parts>', 'query part of each task (.arrow), comma-separated, in the same order', listArg)
    .requiredOption('--order <1|2>', 'first order (PaddleRec) or the exact second order (the official code)', orderArg)
    .requiredOption('--out <file>', 'output .safetensors: one gradient per parameter (embeddings as full tables), mean query loss in the metadata')
    .option('--local-lr <alpha>', 'inner-step learning rate α', positiveNumberArg, 0.0002)
    .option('--config <file>', 'config giving the model hyper-parameters (default: those stored in the checkpoint)')
    .option('--reference', 'compute in float64 with the plain TypeScript reference instead of the engine (small inputs)')
    .option('--threads <n>', 'engine threads (0 = one per core)', nonNegativeIntArg, 0)
    .option('--json', 'print a summary as JSON')
    .action(async (opts: MetaGradOpts) => {
      checkOutputFile(opts.out, '--out', [opts.model, ...opts.support, ...opts.query, opts.config]);
      if (opts.support.length !== opts.query.length) {
        throw new UserError(`--support names ${opts.support.length} part(s) and --query ${opts.query.length}: give one of each per task`);
      }
      const { dims, maxIdxs: tables } = checkpointShape(opts.model, opts.config ? loadConfig(opts.config) : null);
      let schema: Schema | null = null;
      const load = async (path: string) => {
        const part = await loadPart(path, progressBar);
        // the checkpoint's table sizes, which may exceed the data's largest ids
        const s = modelSchema(part.schema, tables, opts.model, path);
        schema ??= s;
        if (JSON.stringify(schemaToJson(s)) !== JSON.stringify(schemaToJson(schema))) throw new UserError(`${path}: its fields differ from those of ${opts.support[0]}`);
        return part;
      };
      const tasks = [];
      for (let i = 0; i < opts.support.length; i++) tasks.push({ support: await load(opts.support[i]!), query: await load(opts.query[i]!) });
      const L = buildLayout(schema!, dims);
      const ops: Ops & { close?: () => Promise<void> } = opts.reference ? new JsOps(Float64Array) : await createOps(opts.threads);
      try {
        const { params } = paramsFromCheckpoint(ops, L, opts.model);
        const order = opts.order === 2 ? 'second' : 'first';
        const r = metaGradient(ops, params, tasks, order, opts.localLr);
        const info = {
          kind: 'meta-gradient', order: opts.order, local_lr: opts.localLr, engine: opts.reference ? 'reference-float64' : 'wasm-float32',
          support: opts.support, query: opts.query, mean_query_loss: r.meanQueryLoss, query_losses: r.queryLosses,
        };
        saveCheckpoint(opts.out, { layout: L, dense: r.grad.dense, tables: r.grad.rows.map((x) => x.data) }, info, { mean_query_loss: String(r.meanQueryLoss) });
        const summary = { out: opts.out, order: opts.order, tasks: tasks.length, meanQueryLoss: r.meanQueryLoss, queryLosses: r.queryLosses };
        process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `wrote the order-${opts.order} meta-gradient of ${tasks.length} task(s) to ${opts.out} (mean query loss ${r.meanQueryLoss})\n`);
      } finally {
        await ops.close?.();
      }
    });
}
