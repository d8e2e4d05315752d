/**
 * The inputs of the meta-gradient fixture (test/fixtures/meta-grad/): a tiny model's weights
 * and two tasks' support and query rows, as plain JSON that make_fixture.py reads into
 * PyTorch. `makeInputs` draws them (run once, with `node dist/test/helpers/meta-grad-inputs.js`,
 * to write inputs.json); the test reads the committed file back.
 */
import { writeFileSync } from 'node:fs';
import type { PartData } from '../../src/data/part.js';
import { allocatePart } from '../../src/data/part-ops.js';
import { multiOffsets, multiStride, schemaFromJson, schemaToJson, type Schema, type SchemaJson } from '../../src/data/schema.js';
import { buildLayout, type Layout, type ModelDims } from '../../src/model/layout.js';
import { JsOps } from '../../src/model/ops.js';
import { allocParams, initParams, type Params } from '../../src/model/params.js';
import { TINY_SCHEMA, randomPart } from './tiny.js';

export interface RowJson {
  label: number;
  single: number[];
  /** Per multi-valued field: the full padded width of ids. */
  multi: number[][];
  len: number[];
  task: number[];
}

export interface MetaGradInputs {
  schema: SchemaJson;
  dims: ModelDims;
  local_lr: number;
  /** Official name -> shape and row-major values. */
  weights: Record<string, { shape: number[]; data: number[] }>;
  tasks: { support: RowJson[]; query: RowJson[] }[];
}

function rowsOf(schema: Schema, d: PartData): RowJson[] {
  const nS = schema.userSingle.length;
  const nM = schema.userMulti.length;
  const nT = schema.task.length;
  const ms = multiStride(schema);
  const offs = multiOffsets(schema);
  return Array.from({ length: d.nRows }, (_, r) => ({
    label: d.label[r]!,
    single: Array.from(d.single.subarray(r * nS, (r + 1) * nS)),
    multi: schema.userMulti.map((f, m) => Array.from(d.multi.subarray(r * ms + offs[m]!, r * ms + offs[m]! + f.width))),
    len: Array.from(d.multiLen.subarray(r * nM, (r + 1) * nM)),
    task: Array.from(d.task.subarray(r * nT, (r + 1) * nT)),
  }));
}

/** Rows back into a part (aid 1). */
export function partOf(schema: Schema, rows: RowJson[]): PartData {
  const d = allocatePart(schema, rows.length);
  const nS = schema.userSingle.length;
  const nM = schema.userMulti.length;
  const nT = schema.task.length;
  const ms = multiStride(schema);
  const offs = multiOffsets(schema);
  rows.forEach((row, r) => {
    d.label[r] = row.label;
    d.aid[r] = 1;
    d.single.set(row.single, r * nS);
    row.multi.forEach((ids, m) => d.multi.set(ids, r * ms + offs[m]!));
    d.multiLen.set(row.len, r * nM);
    d.task.set(row.task, r * nT);
  });
  return d;
}

export function makeInputs(): MetaGradInputs {
  const dims: ModelDims = { embedDim: 4, mlpDims: [5, 3], numExpert: 3, numOutput: 2 };
  const L = buildLayout(TINY_SCHEMA, dims);
  const P = allocParams(L, new JsOps(Float64Array));
  initParams(P, 11);
  // larger weights than the init's, so that the curvature term is well above float32 noise
  for (let i = 0; i < P.dense.length; i++) P.dense[i] = Math.fround(P.dense[i]! * 2);
  for (const t of P.tables) for (let i = 0; i < t.length; i++) t[i] = Math.fround(t[i]!);
  const weights: MetaGradInputs['weights'] = {};
  L.embeddings.forEach((e, i) => (weights[e.name] = { shape: [e.rows, dims.embedDim], data: Array.from(P.tables[i]!) }));
  for (const d of L.dense) weights[d.name] = { shape: d.shape, data: Array.from(P.dense.subarray(d.offset, d.offset + d.size)) };
  const tasks = [0, 1].map((t) => ({
    support: rowsOf(TINY_SCHEMA, randomPart(TINY_SCHEMA, 10, 100 + t)),
    query: rowsOf(TINY_SCHEMA, randomPart(TINY_SCHEMA, 9, 200 + t)),
  }));
  return { schema: schemaToJson(TINY_SCHEMA), dims, local_lr: 0.5, weights, tasks };
}

/** The inputs' layout and weights (in `ops`' precision). */
export function paramsOf(inp: MetaGradInputs, P: (L: Layout) => Params): { schema: Schema; L: Layout; params: Params } {
  const schema = schemaFromJson(inp.schema, 'inputs.json');
  const L = buildLayout(schema, inp.dims);
  const params = P(L);
  L.embeddings.forEach((e, i) => params.tables[i]!.set(inp.weights[e.name]!.data));
  for (const d of L.dense) params.dense.set(inp.weights[d.name]!.data, d.offset);
  return { schema, L, params };
}

if (process.argv[1]?.endsWith('meta-grad-inputs.js') && process.argv[2]) {
  writeFileSync(process.argv[2], `${JSON.stringify(makeInputs())}\n`);
}
