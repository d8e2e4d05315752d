/**
 * The PyTorch speed anchor (shared/anchors/torch_fast.py, an expert PyTorch CPU
 * implementation of the same model and meta-step), run as a child process so its figures
 * sit beside the engine's in one benchmark run. It needs Debian's python3-torch; when that
 * or the anchor folder is missing, the benchmark says so instead of failing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const PYTHON = '/usr/bin/python3';

export type AnchorProbe = { script: string } | { absent: string };

/** Finds shared/anchors/torch_fast.py above `from` (a worktree may sit one level deeper) and checks torch imports. */
export function probeAnchor(from: string): AnchorProbe {
  let script = process.env.METAHEAC_ANCHOR ?? '';
  if (!script) {
    for (let d = resolve(from); ; d = dirname(d)) {
      const c = join(d, 'shared', 'anchors', 'torch_fast.py');
      if (existsSync(c)) {
        script = c;
        break;
      }
      if (dirname(d) === d) break;
    }
  }
  if (!script || !existsSync(script)) return { absent: 'shared/anchors/torch_fast.py not found (set METAHEAC_ANCHOR)' };
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy, pandas'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    return { absent: `${PYTHON} cannot import torch/numpy/pandas (apt-get install -y python3-torch python3-pandas): ${why}` };
  }
  return { script };
}

export interface AnchorFigures {
  metaStepSeconds: number;
  finetuneStepMs: number;
  forwardRowsPerSecond: number;
  /** Cores other processes used, median over the meta-step repetitions (the anchor's own meter). */
  foreignCores: number;
  raw: Record<string, unknown>;
}

/** One anchor bench run: first-order meta-step (Adam early, as the engine's bench), fine-tune step, forward. */
export function runAnchor(script: string, threads: number, reps: number): AnchorFigures {
  const dir = mkdtempSync(join(tmpdir(), 'metaheac-anchor-'));
  try {
    const out = join(dir, 'anchor.json');
    const args = [script, 'bench', '--threads', String(threads), '--reps', String(reps), '--wait', '0',
      '--what', 'meta,finetune,forward', '--orders', '1', '--adam-modes', 'sparse', '--json-out', out];
    const r = spawnSync(PYTHON, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`anchor failed (${PYTHON} ${args.join(' ')}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const j = JSON.parse(readFileSync(out, 'utf8')) as Record<string, any>;
    const meta = j.meta_step_order1_adam_sparse;
    return {
      metaStepSeconds: meta.median,
      finetuneStepMs: j.finetune_step.median * 1000,
      forwardRowsPerSecond: j.forward_rows_per_s,
      foreignCores: meta.foreign_cores_median,
      raw: j,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
