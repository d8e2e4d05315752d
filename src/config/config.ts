/**
 * PaddleRec-style YAML configs: a `runner` section (data, epochs, paths) and a
 * `hyper_parameters` section (model and optimiser), with PaddleRec's key names so that a
 * PaddleRec MetaHeac config loads unchanged. Validated with zod: a wrong type or an
 * unknown key is an error naming the key, what was expected, and the nearest known key.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { closest } from 'fastest-levenshtein';
import { parse as parseYaml, parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { documentToJS } from '../util/yaml.js';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const posNum = z.number().positive();
const pathList = z.union([z.string(), z.array(z.string()).min(1)]);

/**
 * Keys PaddleRec's MetaHeac configs and its generic runner (tools/trainer.py,
 * tools/infer.py) read that mean nothing here; accepted so those files load. Any YAML value
 * is taken: PaddleRec's own configs differ in how they spell them.
 */
const PADDLE_ONLY_RUNNER_KEYS = [
  'train_reader_path',
  'infer_reader_path',
  'reader_type',
  'use_gpu',
  'use_xpu',
  'use_npu',
  'use_visual',
  'use_fleet',
  'use_auc',
  'auc_num',
  'use_inference',
  'use_save_data',
  'save_checkpoint_interval',
  'save_inference_path',
  'save_inference_feed_varnames',
  'save_inference_fetch_varnames',
  'train_batch_size',
  'infer_batch_size',
  'thread_num',
  'sync_mode',
  'split_file_list',
] as const;
const PADDLE_ONLY_RUNNER = Object.fromEntries(PADDLE_ONLY_RUNNER_KEYS.map((k) => [k, z.unknown().optional()])) as Record<
  (typeof PADDLE_ONLY_RUNNER_KEYS)[number],
  z.ZodOptional<z.ZodUnknown>
>;

/** Validation tasks held out of meta-training (off in the paper's recipe). */
const validationSchema = z.strictObject({
  /** Share of the training campaigns held out as validation tasks (seeded); 0: none. */
  share: z.number().min(0).max(0.9).default(0),
  /** Share of each validation task's stage-1 rows scored; the rest is adapted on. */
  holdout: z.number().gt(0).lt(1).default(0.3),
  /** Meta-steps between evaluations (and at the end of every epoch). */
  interval: posInt.default(50),
  /** Stop after this many evaluations without a better validation score; 0: never stop early. */
  patience: nonNegInt.default(0),
  /**
   * The score that picks the best checkpoint: the mean GAUC of the last `smoothing`
   * evaluations (1: each evaluation's own). A few validation campaigns give a noisy GAUC; a
   * lucky early evaluation should not become the model.
   */
  smoothing: posInt.default(1),
  /**
   * After validation has picked the best point, train again from the start on every training
   * campaign (the validation ones too) for as many epochs' worth of steps, and keep that as
   * best/: the held-out campaigns choose how long to train without being lost to training.
   */
  refit: z.boolean().default(false),
});

const runnerSchema = z.strictObject({
  train_data_dir: z.string().optional(),
  test_data_dir: pathList.optional(),
  model_save_path: z.string().default('output/model'),
  model_init_path: z.string().optional(),
  epochs: posInt.default(1),
  print_interval: posInt.default(100),
  seed: z.number().int().default(2021),
  infer_load_path: z.string().optional(),
  infer_start_epoch: nonNegInt.default(0),
  infer_end_epoch: posInt.default(1),
  infer_train_epoch: nonNegInt.default(2),
  metrics_path: z.string().optional(),
  /** Worker threads for kernels and per-task inference; 0 means one per core. */
  threads: nonNegInt.default(0),
  /** Where converted copies of PaddleRec pickles go; default: beside the pickles. */
  cache_dir: z.string().optional(),
  /** A test campaign that also appears in training is refused unless this is true (then a warning). */
  allow_test_overlap: z.boolean().default(false),
  validation: validationSchema.prefault({}),
  /** infer, expand and serve read the best validation checkpoint (model_save_path/best) where training kept one. */
  use_best: z.boolean().default(true),
  ...PADDLE_ONLY_RUNNER,
});

const optimizerSchema = z.strictObject({
  class: z.enum(['adam', 'Adam']).default('adam'),
  global_learning_rate: posNum.default(0.001),
  local_test_learning_rate: posNum.default(0.001),
  strategy: z.string().optional(),
});

/**
 * Regularisation (none in the paper's recipe: every default is off). Applies to
 * meta-training (and the no-meta baseline); with `in_adaptation`, to adapting to a campaign too.
 */
const regularizationSchema = z.strictObject({
  /** Share of the experts' hidden units dropped in training (inverted dropout, after every expert layer). */
  dropout: z.number().min(0).max(0.9).default(0),
  /** Share of the critics' input (the gated mixture of the experts) dropped in training. */
  critic_dropout: z.number().min(0).max(0.9).default(0),
  /** L2 strength on the dense layers' weights and biases. */
  weight_decay: z.number().min(0).default(0),
  /** L2 strength on embedding rows (rows a step touches, or every row Adam moves, see optim/adam.ts). */
  embedding_weight_decay: z.number().min(0).default(0),
  /** true: AdamW (weights shrink by lr·λ each step); false: λ·w added to the gradient before Adam. */
  decoupled: z.boolean().default(false),
  /**
   * Frequency-aware L2 on embedding rows (DIN's mini-batch aware regularisation): a row in a
   * batch gets λ / n_id · w added to its gradient, n_id its id's count in the training rows,
   * so rare ids shrink more.
   */
  frequency_l2: z.number().min(0).default(0),
  /** Embedding rows rescaled to at most this L2 norm after each update (0: off). */
  max_norm: z.number().min(0).default(0),
  /** The same regularisation while adapting to a campaign. */
  in_adaptation: z.boolean().default(false),
});

/** How a campaign is adapted to (spec section 5); `fixed` is the paper's procedure. */
const adaptationSchema = z.strictObject({
  /** `cv`: choose the grid point by k-fold cross-validation on the campaign's stage-1 rows, then adapt on all of them. */
  select: z.enum(['fixed', 'cv']).default('fixed'),
  folds: z.number().int().min(2).max(20).default(3),
  /** Grid of adaptation epochs (cv). */
  epochs: z.array(nonNegInt).min(1).default([1, 2, 3, 5, 8]),
  /** Grid of learning rates (cv); empty: optimizer.local_test_learning_rate. */
  learning_rates: z.array(posNum).default([]),
  /** Grid over freezing the embedding tables while adapting (cv). */
  freeze_embeddings: z.array(z.boolean()).min(1).default([false]),
  /** Fewer positives than this in a campaign's stage 1: no cross-validation, runner.infer_train_epoch (said in the summary). */
  min_positives: posInt.default(6),
});

const hyperSchema = z.strictObject({
  /** null (e.g. `-o hyper_parameters.max_idxs=null`): the data's own sizes. */
  max_idxs: z.array(z.array(nonNegInt)).length(3).nullish(),
  embed_dim: posInt.default(64),
  mlp_dims: z.array(posInt).min(1).default([64, 64]),
  local_lr: posNum.default(0.0002),
  num_expert: posInt.default(8),
  num_output: posInt.default(5),
  task_count: posInt.default(5),
  batch_size: posInt.default(1024),
  optimizer: optimizerSchema.prefault({}),
  /** false: the no-meta baseline (joint training with Adam, then the same adaptation). */
  meta: z.boolean().default(true),
  /** `first` is PaddleRec's algorithm; `second` the official code's exact meta-gradient. */
  meta_order: z.enum(['first', 'second']).default('first'),
  /** Task draw weights: ∝ rows (`normal`), ∝ sqrt(rows), or uniform (`unit`). */
  task_sampling: z.enum(['normal', 'sqrt', 'unit']).default('normal'),
  /** PaddleRec draws tasks with replacement; the official code without (the default). */
  task_replacement: z.boolean().default(false),
  regularization: regularizationSchema.prefault({}),
  adaptation: adaptationSchema.prefault({}),
});

const configSchema = z.strictObject({
  runner: runnerSchema.prefault({}),
  hyper_parameters: hyperSchema.prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type RunnerConfig = Config['runner'];
export type HyperParameters = Config['hyper_parameters'];

/** Every dotted key the schema knows, for suggestions. */
function knownKeys(): string[] {
  const out: string[] = [];
  const walk = (shape: Record<string, z.ZodType>, prefix: string): void => {
    for (const [k, v] of Object.entries(shape)) {
      const key = prefix ? `${prefix}.${k}` : k;
      out.push(key);
      const inner = unwrap(v);
      if (inner instanceof z.ZodObject) walk(inner.shape as Record<string, z.ZodType>, key);
    }
  };
  walk(configSchema.shape as Record<string, z.ZodType>, '');
  return out;
}

function unwrap(t: z.ZodType): z.ZodType {
  let cur: z.ZodType = t;
  for (;;) {
    const def = (cur as unknown as { def: { innerType?: z.ZodType } }).def;
    if (def && def.innerType) cur = def.innerType;
    else return cur;
  }
}

function describeIssue(issue: z.core.$ZodIssue, source: string): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
    const known = knownKeys();
    const parts = keys.map((k) => {
      const siblings = known.filter((x) => x.split('.').length === k.split('.').length);
      const best = closest(k, siblings.length ? siblings : known);
      return `unknown key "${k}" (did you mean "${best}"?)`;
    });
    return `${source}: ${parts.join('; ')}`;
  }
  return `${source}: key "${path || '(root)'}": ${issue.message}`;
}

/** Validate a plain object as a config; `source` names where it came from in errors. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigError(describeIssue(r.error.issues[0]!, source));
  return r.data;
}

/**
 * Names that reach an object's prototype: `-o __proto__.x=1` would otherwise set `x` on every
 * object in the process.
 */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function checkKeyParts(parts: string[], text: string): void {
  for (const p of parts) {
    if (p === '') throw new ConfigError(`override "${text}": empty key segment; expected dotted names such as runner.epochs`);
    if (UNSAFE_KEYS.has(p)) throw new ConfigError(`override "${text}": key "${p}" is not allowed`);
  }
}

/** An unsafe name anywhere inside an override's YAML value (`-o 'runner={__proto__: {}}'`). */
function checkValueKeys(v: unknown, text: string): void {
  if (typeof v !== 'object' || v === null) return;
  for (const k of Object.keys(v)) {
    if (UNSAFE_KEYS.has(k)) throw new ConfigError(`override "${text}": key "${k}" is not allowed`);
    checkValueKeys((v as Record<string, unknown>)[k], text);
  }
}

/** Set a dotted key in a nested plain object, creating sections as needed. */
function setDotted(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  checkKeyParts(parts, key);
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** Parse `key=value` overrides (PaddleRec's `-o`); values are YAML scalars or flow collections. */
export function parseOverride(text: string): { key: string; value: unknown } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ConfigError(`override "${text}": expected key=value, e.g. runner.epochs=2`);
  const key = text.slice(0, eq).trim();
  checkKeyParts(key.split('.'), text);
  const valueText = text.slice(eq + 1);
  let value: unknown;
  try {
    value = parseYaml(valueText);
  } catch {
    value = valueText;
  }
  checkValueKeys(value, text);
  return { key, value: value === null && valueText !== 'null' && valueText !== '~' ? valueText : value };
}

/** Keys whose values are paths, resolved against the config file's folder (PaddleRec does the same). */
const PATH_KEYS = ['train_data_dir', 'test_data_dir', 'model_save_path', 'model_init_path', 'infer_load_path', 'metrics_path', 'cache_dir'] as const;

export interface LoadedConfig extends Config {
  /** The file it came from, or null for defaults only. */
  source: string | null;
}

/**
 * Load a YAML config, apply overrides, validate, and resolve paths: those from the file
 * against the file's folder, those from overrides against the working directory.
 */
export function loadConfig(path: string | null, overrides: string[] = []): LoadedConfig {
  let raw: Record<string, unknown> = {};
  const source = path ?? 'defaults';
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`${path}: cannot read config (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    const doc = parseDocument(text);
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      const line = err.linePos?.[0]?.line;
      throw new ConfigError(`${path}${line ? `:${line}` : ''}: invalid YAML: ${err.message.split('\n')[0]}`);
    }
    let v: unknown;
    try {
      v = documentToJS(doc);
    } catch (e) {
      throw new ConfigError(`${path}: invalid YAML: ${(e as Error).message}`);
    }
    if (v !== null && v !== undefined) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${path}: expected a mapping with runner and hyper_parameters sections`);
      raw = v as Record<string, unknown>;
    }
  }
  const fromOverride = new Set<string>();
  for (const o of overrides) {
    const { key, value } = parseOverride(o);
    setDotted(raw, key, value);
    fromOverride.add(key);
  }
  const cfg = parseConfig(raw, path ?? 'config');
  const base = path ? dirname(resolve(path)) : process.cwd();
  const runner = cfg.runner as Record<string, unknown>;
  for (const k of PATH_KEYS) {
    const v = runner[k];
    if (v === undefined) continue;
    const root = fromOverride.has(`runner.${k}`) ? process.cwd() : base;
    const res = (p: string): string => (isAbsolute(p) ? p : resolve(root, p));
    runner[k] = Array.isArray(v) ? (v as string[]).map(res) : res(v as string);
  }
  return { ...cfg, source };
}

/** The paddle-only keys that were set: the CLI warns that they are ignored. */
export function ignoredKeys(cfg: Config): string[] {
  return Object.keys(PADDLE_ONLY_RUNNER)
    .filter((k) => (cfg.runner as Record<string, unknown>)[k] !== undefined)
    .map((k) => `runner.${k}`)
    .concat(cfg.hyper_parameters.optimizer.strategy !== undefined ? ['hyper_parameters.optimizer.strategy'] : []);
}
