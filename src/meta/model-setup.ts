/**
 * From a config and a dataset schema to a model: the layout, parameters initialised from the
 * seed or loaded from a checkpoint, with every mismatch between config, data and checkpoint
 * refused by name; and the options of training and adapting it that the config sets.
 */
import type { Config, LoadedConfig } from '../config/config.js';
import { modelSchema } from '../data/dataset.js';
import { maxIdxs, maxIdxsMismatch, type Schema } from '../data/schema.js';
import { ConfigError, DataError } from '../util/errors.js';
import type { DropoutRates } from '../model/dropout.js';
import { buildLayout, checkModelFits, type Layout, type ModelDims } from '../model/layout.js';
import { checkpointFormat, importWeights } from '../model/import-checkpoint.js';
import { JsOps, type Ops } from '../model/ops.js';
import { allocParams, initParams, type Params } from '../model/params.js';
import type { AdaptOptions } from './adapt.js';
import { adaptRegularization } from './options.js';
import { checkCheckpoint, loadCheckpoint, readCheckpointMetaIfAny, type CheckpointMeta } from '../model/checkpoint.js';

export function modelDims(cfg: Config): ModelDims {
  const hp = cfg.hyper_parameters;
  return { embedDim: hp.embed_dim, mlpDims: hp.mlp_dims, numExpert: hp.num_expert, numOutput: hp.num_output };
}

/** How `infer`, `expand` and `serve` adapt to a campaign: the paper's fixed procedure, or chosen per campaign (adaptation.select: cv). */
export function adaptOptionsFor(cfg: LoadedConfig): AdaptOptions {
  const hp = cfg.hyper_parameters;
  const a = hp.adaptation;
  const dropout = dropoutRates(cfg, true);
  const regularization = adaptRegularization(cfg);
  const opts: AdaptOptions = { lr: hp.optimizer.local_test_learning_rate, epochs: cfg.runner.infer_train_epoch, batchSize: hp.batch_size, seed: cfg.runner.seed, ...(dropout && { dropout }), ...(regularization && { regularization }) };
  if (a.select === 'cv') opts.select = { folds: a.folds, epochs: a.epochs, learningRates: a.learning_rates, freezeEmbeddings: a.freeze_embeddings, minPositives: a.min_positives };
  return opts;
}

/** The schema the model uses on data of `schema` read from `where`: config max_idxs may enlarge the tables. */
export function schemaFor(cfg: LoadedConfig, schema: Schema, where: string): Schema {
  return modelSchema(schema, cfg.hyper_parameters.max_idxs, cfg.source ?? 'config', where);
}

/** The model's layout, refused by name when it (or a batch of it) cannot fit the engine. */
export function layoutFor(cfg: LoadedConfig, schema: Schema): Layout {
  const L = buildLayout(schema, modelDims(cfg));
  checkModelFits(L, cfg.hyper_parameters.batch_size, 'hyper_parameters.batch_size', cfg.source ?? 'config');
  return L;
}

/**
 * The dropout of training passes (regularization.dropout, .critic_dropout), or of adapting to
 * a campaign (only with .in_adaptation); undefined when it drops nothing.
 */
export function dropoutRates(cfg: Config, adaptation: boolean): DropoutRates | undefined {
  const r = cfg.hyper_parameters.regularization;
  if (adaptation && !r.in_adaptation) return undefined;
  return r.dropout > 0 || r.critic_dropout > 0 ? { experts: r.dropout, critics: r.critic_dropout } : undefined;
}

/**
 * The dimensions and table sizes of the model a checkpoint holds: a metaheac file says them
 * (a config, when given, sets the dimensions); the reference implementations' files say
 * neither, so they need the config (its max_idxs, or null: the data's sizes).
 */
export function checkpointShape(path: string, cfg: Config | null): { dims: ModelDims; maxIdxs: number[][] | null } {
  const format = checkpointFormat(path);
  const meta = format === 'safetensors' ? readCheckpointMetaIfAny(path) : null;
  if (meta) return { dims: cfg ? modelDims(cfg) : meta.dims, maxIdxs: maxIdxs(meta.schema) };
  if (!cfg) {
    const what = format === 'torch' ? 'a torch.save file carries no model dimensions' : format === 'pdparams' ? 'a PaddleRec .pdparams file carries no model dimensions' : 'no metaheac metadata in the checkpoint (one saved from PyTorch?)';
    throw new ConfigError(`${path}: ${what}; pass --config with its hyper-parameters (and max_idxs when its tables are larger than the data's ids)`);
  }
  return { dims: modelDims(cfg), maxIdxs: cfg.hyper_parameters.max_idxs ?? null };
}

/** Fresh parameters with the spec's initialisation. */
export function freshParams(ops: Ops, L: Layout, seed: number): Params {
  const p = allocParams(L, ops);
  initParams(p, seed);
  return p;
}

/**
 * Check, without reading its tensors, that a checkpoint fits a model of layout L: the same
 * schema (field names and table sizes) and exactly L's tensors. A checkpoint without
 * metaheac's metadata (saved from PyTorch) has no field names to compare: its tensor
 * names and shapes must then match the layout the config gives.
 */
export function verifyCheckpoint(L: Layout, path: string): void {
  const format = checkpointFormat(path);
  if (format !== 'safetensors') {
    // torch.save and .pdparams files carry no schema: reading them is the check
    importWeights(path, format, L, allocParams(L, new JsOps(Float32Array)));
    return;
  }
  const meta = readCheckpointMetaIfAny(path);
  if (meta) checkMeta(L, path, meta);
  checkCheckpoint(path, L);
}

function checkMeta(L: Layout, path: string, meta: CheckpointMeta): void {
  const bad = maxIdxsMismatch(L.schema, maxIdxs(meta.schema));
  if (bad) throw new DataError(`${path}: the checkpoint's schema differs from the data's: ${bad.replace('the dataset schema says', 'the data says')}`);
  const groups = [
    [meta.schema.userSingle, L.schema.userSingle],
    [meta.schema.userMulti, L.schema.userMulti],
    [meta.schema.task, L.schema.task],
  ] as const;
  for (const [a, b] of groups) {
    a.forEach((f, i) => {
      if (f.name !== b[i]!.name) throw new DataError(`${path}: the checkpoint's field ${i} is "${f.name}", the data's is "${b[i]!.name}"`);
    });
  }
}

/**
 * Load a checkpoint into a model shaped by the config and schema, after verifyCheckpoint:
 * a metaheac safetensors file, or the reference implementations' weights (torch.save
 * state_dicts, PaddleRec .pdparams), imported on the way.
 */
export function paramsFromCheckpoint(ops: Ops, L: Layout, path: string): { params: Params; info: Record<string, unknown> } {
  const format = checkpointFormat(path);
  if (format !== 'safetensors') {
    const params = allocParams(L, ops);
    const notes = importWeights(path, format, L, params);
    return { params, info: { imported_from: path, format, notes } };
  }
  verifyCheckpoint(L, path);
  const params = allocParams(L, ops);
  const info = loadCheckpoint(path, params);
  return { params, info };
}
