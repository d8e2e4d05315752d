/**
 * Where every parameter lives. Embedding tables are kept apart from the dense network (as
 * TorchRec does): a batch touches a few thousand of their rows, while the dense weights are
 * all used every step. The dense weights sit in ONE flat array so that cloning them for a
 * task's fast weights, or an Adam step over them, is a single loop; the order inside it puts
 * the K experts' first-layer weights back to back, which makes them one [K*d1, in] matrix
 * and the first layer of all experts one matrix multiply.
 */
import type { Schema } from '../data/schema.js';
import { multiStride, userFieldCount } from '../data/schema.js';
import { UserError } from '../util/errors.js';

export interface ModelDims {
  embedDim: number;
  mlpDims: number[];
  numExpert: number;
  numOutput: number;
}

/** One dense tensor's place in the flat array, under its PyTorch state_dict name. */
export interface DenseEntry {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  /** fan_in of the nn.Linear it belongs to (for the U(-1/sqrt(fan_in), ..) init). */
  fanIn: number;
}

export interface EmbeddingEntry {
  name: string;
  rows: number;
  group: 'static' | 'dynamic' | 'ad';
}

export interface Layout {
  schema: Schema;
  dims: ModelDims;
  /** F: number of user fields. */
  nUser: number;
  /** A: number of task fields. */
  nTask: number;
  /** Input width of the experts: F * E. */
  inDim: number;
  /** Width of the gates' input: (1 + A) * E. */
  gateDim: number;
  /** Last expert layer width. */
  dLast: number;
  dense: DenseEntry[];
  denseSize: number;
  /** Tables in the order static (single), dynamic (multi), ad (task). */
  embeddings: EmbeddingEntry[];
  /** Offsets of the named groups inside the flat dense array. */
  at: {
    /** Per layer j: weights of all experts, expert k at w + k*d_j*d_{j-1}. */
    expertW: number[];
    expertB: number[];
    criticW: number;
    criticB: number;
    expertGate: { w1: number; b1: number; w2: number; b2: number };
    criticGate: { w1: number; b1: number; w2: number; b2: number };
  };
}

export function buildLayout(schema: Schema, dims: ModelDims): Layout {
  const E = dims.embedDim;
  const K = dims.numExpert;
  const C = dims.numOutput;
  const nUser = userFieldCount(schema);
  const nTask = schema.task.length;
  const inDim = nUser * E;
  const gateDim = (1 + nTask) * E;
  const d = [inDim, ...dims.mlpDims];
  const dLast = d[d.length - 1]!;
  const dense: DenseEntry[] = [];
  let off = 0;
  const add = (name: string, shape: number[], fanIn: number): number => {
    const size = shape.reduce((a, b) => a * b, 1);
    dense.push({ name, shape, offset: off, size, fanIn });
    const o = off;
    off += size;
    return o;
  };
  const expertW: number[] = [];
  const expertB: number[] = [];
  for (let j = 1; j < d.length; j++) {
    let w = -1;
    for (let k = 0; k < K; k++) {
      const o = add(`mlp.${k}.mlp.${2 * (j - 1)}.weight`, [d[j]!, d[j - 1]!], d[j - 1]!);
      if (k === 0) w = o;
    }
    let b = -1;
    for (let k = 0; k < K; k++) {
      const o = add(`mlp.${k}.mlp.${2 * (j - 1)}.bias`, [d[j]!], d[j - 1]!);
      if (k === 0) b = o;
    }
    expertW.push(w);
    expertB.push(b);
  }
  let criticW = -1;
  for (let c = 0; c < C; c++) {
    const o = add(`output_layer.${c}.weight`, [1, dLast], dLast);
    if (c === 0) criticW = o;
  }
  let criticB = -1;
  for (let c = 0; c < C; c++) {
    const o = add(`output_layer.${c}.bias`, [1], dLast);
    if (c === 0) criticB = o;
  }
  const gate = (prefix: string, n: number) => ({
    w1: add(`${prefix}.0.weight`, [dLast, gateDim], gateDim),
    b1: add(`${prefix}.0.bias`, [dLast], gateDim),
    w2: add(`${prefix}.2.weight`, [n, dLast], dLast),
    b2: add(`${prefix}.2.bias`, [n], dLast),
  });
  const expertGate = gate('attention_layer', K);
  const criticGate = gate('output_attention_layer', C);
  const embeddings: EmbeddingEntry[] = [
    ...schema.userSingle.map((f, i) => ({ name: `embedding.static_emb.embeddings.${i}.weight`, rows: f.maxIdx + 1, group: 'static' as const })),
    ...schema.userMulti.map((f, i) => ({ name: `embedding.dynamic_emb.embeddings.${i}.weight`, rows: f.maxIdx + 1, group: 'dynamic' as const })),
    ...schema.task.map((f, i) => ({ name: `embedding.ad_emb.embeddings.${i}.weight`, rows: f.maxIdx + 1, group: 'ad' as const })),
  ];
  return {
    schema,
    dims,
    nUser,
    nTask,
    inDim,
    gateDim,
    dLast,
    dense,
    denseSize: off,
    embeddings,
    at: { expertW, expertB, criticW, criticB, expertGate, criticGate },
  };
}

/** Total parameter count (embeddings + dense). */
export function parameterCount(l: Layout): number {
  let n = l.denseSize;
  for (const e of l.embeddings) n += e.rows * l.dims.embedDim;
  return n;
}

/**
 * The compute engine's memory: a wasm32 memory holds at most 4 GiB, and every array of a
 * model (parameters, gradients, optimiser moments, a batch's activations) lives in it.
 */
export const ENGINE_MAX_BYTES = 4 * 1024 ** 3;

/**
 * Refuse, before any data is read or memory reserved, a model or batch that cannot fit the
 * engine: its parameters alone, or a lower bound of one batch's arrays (each row carries
 * its list ids, its F·E embedded inputs and every expert's first-layer outputs). `batchKey`
 * and `where` name the setting and the file it came from; a model in between still fails
 * with the engine's one-line "memory exhausted".
 */
export function checkModelFits(l: Layout, batchSize: number, batchKey: string, where: string): void {
  const gib = (b: number): string => (b >= 1024 ** 3 ? `${(b / 1024 ** 3).toFixed(1)} GiB` : `${Math.ceil(b / 1024 ** 2)} MiB`);
  const E = l.dims.embedDim;
  const biggest = l.embeddings.reduce((a, e) => (e.rows > a.rows ? e : a), { name: '', rows: 0 });
  const params = parameterCount(l) * 4;
  if (params > ENGINE_MAX_BYTES) {
    const why = biggest.rows * E * 4 > ENGINE_MAX_BYTES / 4
      ? `the largest table, ${biggest.name}, has ${biggest.rows} rows (max_idx + 1) of embed_dim ${E}`
      : `embed_dim ${E}, mlp_dims [${l.dims.mlpDims.join(', ')}], num_expert ${l.dims.numExpert}`;
    throw new UserError(`${where}: a model of ${parameterCount(l)} parameters (${gib(params)}) cannot fit the engine's ${gib(ENGINE_MAX_BYTES)}: ${why}; use smaller tables (max_idx, max_idxs) or dimensions`);
  }
  const rowBytes = 4 * (l.inDim + l.dims.numExpert * l.dims.mlpDims[0]! + multiStride(l.schema));
  if (batchSize * rowBytes > ENGINE_MAX_BYTES - params) {
    throw new UserError(`${where}: ${batchKey} is ${batchSize}: one batch needs at least ${gib(batchSize * rowBytes)} of the engine's ${gib(ENGINE_MAX_BYTES)} (the model takes ${gib(params)}); use at most ${Math.floor((ENGINE_MAX_BYTES - params) / rowBytes)}`);
  }
}
