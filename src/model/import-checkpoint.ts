/**
 * Weights trained by the reference implementations, into this project's parameters:
 *
 * - the official code's torch.save(model.state_dict()) files: already the official names
 *   (optionally prefixed `model.`, as the saved MetaModel has them) and [out, in] weights;
 * - PaddleRec's .pdparams: the same structured names, but Paddle's Linear stores its
 *   weight [in, out] (transposed here), and PaddleRec's MultiLayerPerceptron.forward runs
 *   only mlp[0] of each expert, so its effective model is this one with one expert layer
 *   (mlp_dims [d]); the unused mlp.{k}.mlp.2 layers are dropped, with a note.
 *
 * A missing tensor, an unknown one or a wrong shape is refused with its name.
 */
import { extname } from 'node:path';
import { closeSync, readSync } from 'node:fs';
import { readPdparams, readTorchStateDict, type NamedTensor } from '../data/importers/checkpoint-files.js';
import { DataError } from '../util/errors.js';
import { openForRead } from '../util/files.js';
import { describeNonFinite, nonFiniteParams } from './finite.js';
import type { Layout } from './layout.js';
import type { Params } from './params.js';

export type CheckpointFormat = 'safetensors' | 'torch' | 'pdparams';

/**
 * By content: a safetensors file starts with its header length and '{', a torch.save file
 * with a zip or pickle signature, a .pdparams file (named so) with a pickle's. A file with
 * none of these is a damaged safetensors file when it is named so or starts like one (a
 * small header length), whose reader then names the damage; anything else is refused here,
 * so no format's message (a torch.save file "carries no model dimensions") answers for
 * another's.
 */
export function checkpointFormat(path: string): CheckpointFormat {
  const fd = openForRead(path);
  const head = Buffer.alloc(9);
  let n: number;
  try {
    n = readSync(fd, head, 0, 9, 0);
  } finally {
    closeSync(fd);
  }
  const named = extname(path).toLowerCase();
  if (n === 9 && head[8] === 0x7b && head.readUInt32LE(4) === 0) return 'safetensors';
  const zip = n >= 4 && head.readUInt32LE(0) === ZIP_MAGIC;
  const pickle = n >= 2 && head[0] === PICKLE_PROTO;
  if (pickle && named === '.pdparams') return 'pdparams';
  if (zip || pickle) return 'torch';
  if (named === '.safetensors' || (n >= 8 && head.readUInt32LE(4) === 0)) return 'safetensors';
  throw new DataError(`${path}: not a checkpoint: neither a safetensors file (an 8-byte header length, then '{'), a torch.save zip archive nor a pickle (.pt, .pth, .pdparams)`);
}

/** The first bytes of a zip archive's local file header, and a pickle's PROTO opcode. */
const ZIP_MAGIC = 0x04034b50;
const PICKLE_PROTO = 0x80;

interface Want {
  name: string;
  shape: number[];
  dest: Float32Array | Float64Array;
}

function wanted(L: Layout, p: Params): Want[] {
  const E = L.dims.embedDim;
  return [
    ...L.embeddings.map((e, i) => ({ name: e.name, shape: [e.rows, E], dest: p.tables[i]! })),
    ...L.dense.map((d) => ({ name: d.name, shape: d.shape, dest: p.dense.subarray(d.offset, d.offset + d.size) })),
  ];
}

const same = (a: number[], b: number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** PaddleRec's experts keep layers past mlp[0] that its forward never runs. */
const PADDLE_UNUSED = /^mlp\.\d+\.mlp\.([1-9]\d*)\.(weight|bias)$/;

/**
 * Fill `p` (shaped by L) from a torch or Paddle file; returns notes on what was changed
 * (dropped layers), for the log.
 */
export function importWeights(path: string, format: 'torch' | 'pdparams', L: Layout, p: Params): string[] {
  const notes: string[] = [];
  let have: Map<string, NamedTensor>;
  if (format === 'torch') {
    have = new Map([...readTorchStateDict(path)].map(([k, v]) => [k.startsWith('model.') ? k.slice(6) : k, v]));
  } else {
    if (L.dims.mlpDims.length !== 1) {
      throw new DataError(`${path}: PaddleRec's network runs only the first layer of each expert (MultiLayerPerceptron.forward calls mlp[0]); import it with hyper_parameters.mlp_dims: [${L.dims.mlpDims[0]}]`);
    }
    have = readPdparams(path);
    const dropped = [...have.keys()].filter((k) => PADDLE_UNUSED.test(k));
    for (const k of dropped) have.delete(k);
    if (dropped.length) notes.push(`dropped ${dropped.length} tensors PaddleRec's network never uses (${dropped.slice(0, 2).join(', ')}${dropped.length > 2 ? ', ...' : ''}): its experts run mlp[0] only`);
    notes.push('transposed Paddle Linear weights from [in, out] to [out, in]');
  }
  for (const w of wanted(L, p)) {
    const t = have.get(w.name);
    if (!t) throw new DataError(`${path}: tensor "${w.name}" is missing (the config's schema or hyper-parameters differ from the checkpoint's)`);
    const transpose = format === 'pdparams' && !w.name.startsWith('embedding.') && w.shape.length === 2;
    const shape = transpose ? [...t.shape].reverse() : t.shape;
    if (!same(shape, w.shape)) {
      throw new DataError(`${path}: tensor "${w.name}" has shape [${t.shape.join(', ')}]${transpose ? ' ([in, out])' : ''}, the config gives [${w.shape.join(', ')}]`);
    }
    if (transpose) {
      const [rows, cols] = w.shape as [number, number];
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w.dest[r * cols + c] = t.data[c * rows + r]!;
    } else {
      w.dest.set(t.data);
    }
    have.delete(w.name);
  }
  const extra = [...have.keys()];
  if (extra.length) throw new DataError(`${path}: unexpected tensor "${extra[0]}" (the config's schema or hyper-parameters differ from the checkpoint's)`);
  // refused here, not at the next load: a checkpoint is never written with NaN or infinite weights
  const bad = nonFiniteParams(p);
  if (bad) throw new DataError(`${path}: ${describeNonFinite(bad)}; weights must be finite numbers, nothing imported`);
  return notes;
}
