/** `metaheac import-checkpoint`: the reference implementations' weights (torch.save, .pdparams) → a metaheac checkpoint. */
import type { Command } from 'commander';
import { loadDataset } from '../../data/dataset.js';
import { saveCheckpoint } from '../../model/checkpoint.js';
import { checkpointFormat, importWeights } from '../../model/import-checkpoint.js';
import { JsOps } from '../../model/ops.js';
import { allocParams } from '../../model/params.js';
import { layoutFor, schemaFor } from '../../meta/model-setup.js';
import { ConfigError, DataError } from '../../util/errors.js';
import { checkOutputFile } from '../../util/output-paths.js';
import { configFrom, logLine, type CommonOpts } from '../common.js';

interface ImportOpts extends CommonOpts {
  out: string;
  data?: string;
}

export function register(program: Command): void {
  program
    .command('import-checkpoint')
    .description("convert the official code's torch.save(state_dict) file (zip or legacy format) or PaddleRec's .pdparams into a metaheac checkpoint")
    .argument('<file>', 'parameter_*.pkl / .pt / .pth (torch.save) or .pdparams (PaddleRec)')
    .requiredOption('-m, --config <file>', "config giving the model's hyper-parameters (embed_dim, mlp_dims, num_expert, num_output, max_idxs)")
    .option('-o, --override <key=value>', 'override a config key (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--data <dir>', "dataset whose schema.json names the fields (default: the config's runner.train_data_dir)")
    .requiredOption('--out <file>', 'output checkpoint (.safetensors)')
    .option('--json', 'print a summary as JSON')
    .action((file: string, opts: ImportOpts) => {
      checkOutputFile(opts.out, '--out', [file, opts.config]);
      const cfg = configFrom(opts);
      const format = checkpointFormat(file);
      if (format === 'safetensors') throw new DataError(`${file}: already a safetensors checkpoint; nothing to import`);
      const dir = opts.data ?? cfg.runner.train_data_dir;
      if (!dir) throw new ConfigError(`${cfg.source}: no dataset to take the field names from: give --data DIR or set runner.train_data_dir`);
      const L = layoutFor(cfg, schemaFor(cfg, loadDataset(dir).schema, dir));
      const params = allocParams(L, new JsOps(Float32Array));
      const notes = importWeights(file, format, L, params);
      for (const n of notes) logLine(`note: ${n}`);
      saveCheckpoint(opts.out, params, { imported_from: file, format, notes, hyper_parameters: cfg.hyper_parameters });
      const summary = { out: opts.out, format, tensors: L.dense.length + L.embeddings.length, notes };
      process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `imported ${summary.tensors} tensors (${format}) from ${file} into ${opts.out}\n`);
    });
}
