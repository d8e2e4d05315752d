/**
 * `run.json` beside the checkpoints: what produced them (mode, seed, hyper-parameters, the
 * initial checkpoint, the training part's bytes), the epochs completed, and the training
 * campaigns. A model folder reused by a run with another identity is refused, naming the
 * first difference, instead of mixing epochs of two runs; infer reads the training
 * campaigns from it to refuse test campaigns the model was trained on.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DataError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';

export const RUN_FILE = 'run.json';
const FORMAT = 'metaheac-run';

export interface RunIdentity {
  mode: 'meta' | 'joint';
  seed: number;
  hyper_parameters: unknown;
  /** The validation split and schedule (runner.validation): they change what training does. */
  validation: unknown;
  /** SHA-256 of the checkpoint training started from, or null for a fresh initialisation. */
  model_init_sha256: string | null;
  /** The training part's rows and SHA-256 (where it lies may change). */
  train_data: { rows: number; sha256: string };
}

export interface RunManifest {
  format: typeof FORMAT;
  version: 1;
  identity: RunIdentity;
  /** Where the training part was read, for people. */
  train_path: string;
  /** Epochs whose checkpoint was written, ascending. */
  epochs_done: number[];
  /** The training campaigns (aids), ascending. */
  train_aids: number[];
}

/** The first path at which two JSON values differ, with both values, or null when equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): { path: string; a: unknown; b: unknown } | null {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? null : { path, a, b };
}

export function readRunManifest(dir: string): RunManifest | null {
  const path = join(dir, RUN_FILE);
  if (!existsSync(path)) return null;
  let m: RunManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as RunManifest;
  } catch (e) {
    throw new DataError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (m?.format !== FORMAT || m.version !== 1 || !Array.isArray(m.epochs_done) || !Array.isArray(m.train_aids) || typeof m.identity !== 'object') {
    throw new DataError(`${path}: not a metaheac run manifest`);
  }
  return m;
}

/** Epoch folders holding a checkpoint (`0/`, `1/`, ...). */
function epochFolders(dir: string, checkpointFile: string): string[] {
  return readdirSync(dir).filter((f) => /^\d+$/.test(f) && existsSync(join(dir, f, checkpointFile)));
}

const show = (v: unknown): string => (v === undefined ? '(absent)' : JSON.stringify(v));

/**
 * Before training into `dir`: refuse a file where the folder belongs, and a folder holding
 * another run's checkpoints. Returns the manifest to extend (epochs of an identical run
 * are rewritten identically).
 */
export function openRunFolder(dir: string, identity: RunIdentity, trainPath: string, trainAids: number[], checkpointFile: string): RunManifest {
  const fresh: RunManifest = { format: FORMAT, version: 1, identity, train_path: trainPath, epochs_done: [], train_aids: trainAids };
  if (!existsSync(dir)) return fresh;
  if (!statSync(dir).isDirectory()) throw new ConfigError(`${dir}: runner.model_save_path is a file; it must be a folder`);
  const have = readRunManifest(dir);
  const hint = 'choose another runner.model_save_path, or delete the folder to train there';
  if (!have) {
    const found = epochFolders(dir, checkpointFile);
    if (found.length) throw new ConfigError(`${dir}: holds checkpoints (${found.map((f) => `${f}/`).join(', ')}) without ${RUN_FILE}, from another run or an older version; ${hint}`);
    return fresh;
  }
  const d = firstDifference(have.identity, identity);
  if (d) throw new ConfigError(`${dir}: holds the checkpoints of another run (${d.path}: ${show(d.a)} there, ${show(d.b)} now); ${hint}`);
  return { ...have, identity, train_path: trainPath, train_aids: trainAids };
}

/** Indented JSON, the (long) lists of numbers on one line each. */
export function writeRunManifest(dir: string, m: RunManifest): void {
  const { epochs_done, train_aids, ...head } = m;
  const text = `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "epochs_done": ${JSON.stringify(epochs_done)},\n  "train_aids": ${JSON.stringify(train_aids)}\n}\n`;
  writeFileAtomic(join(dir, RUN_FILE), text);
}
