/**
 * A MetaHeac model as an ONNX graph, for engines this project does not run (ONNX Runtime in
 * Spark, Flink or a serving system, where the user pools live). The graph is the spec's
 * section 3 written in ONNX operators, with the weights as initializers:
 *
 *   inputs   one per field, named as the dataset's columns: a single-valued or task field
 *            `name` int64 [B]; a multi-valued field `name` int64 [B, width] and
 *            `name_length` int64 [B] (only the first min(len, width) ids count, divided by
 *            max(len, 1); padded slots must hold some id of the vocabulary)
 *   output   `score` float [B], the predicted response probability
 *
 * A campaign's adapted model bakes its task (ad) fields in: it has no task inputs, and the
 * task fields' embeddings are constants of the graph.
 *
 * The protobuf is written with `onnx-proto` (the ONNX schema compiled for protobufjs); opset
 * 17 is read by ONNX Runtime 1.12 and later.
 */
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';
import type { PartData } from '../data/part.js';
import { multiOffsets, multiStride } from '../data/schema.js';
import { loadCheckpoint, readCheckpointMeta } from './checkpoint.js';
import { buildLayout, type Layout } from './layout.js';
import { JsOps, type Vec } from './ops.js';
import { allocParams } from './params.js';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;
type IAttribute = onnxProto.onnx.IAttributeProto;

export const ONNX_OPSET = 17;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export interface OnnxWeights {
  layout: Layout;
  /** The flat dense array (layout.ts). */
  dense: Vec;
  /** Full tables in layout order; an adapted model's tables have its adapted rows in place. */
  tables: Vec[];
}

export interface OnnxOptions {
  /** Task field codes to bake in (a campaign's model); absent: the task fields are inputs. */
  task?: ArrayLike<number>;
  /** Free text stored as the model's doc_string. */
  description?: string;
  /** Key/value metadata stored in the model (metadata_props). */
  metadata?: Record<string, string>;
}

/** Collects nodes and initializers under unique names. */
class GraphBuilder {
  readonly nodes: INode[] = [];
  readonly inits: ITensor[] = [];
  private n = 0;

  private fresh(hint: string): string {
    // a leading slash keeps internal names apart from the field-named inputs
    return `/${hint}_${this.n++}`;
  }

  floats(hint: string, dims: number[], data: ArrayLike<number>): string {
    const name = this.fresh(hint);
    const f = Float32Array.from(data);
    this.inits.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(f.buffer) });
    return name;
  }

  ints(hint: string, data: number[]): string {
    const name = this.fresh(hint);
    const a = BigInt64Array.from(data.map((v) => BigInt(v)));
    this.inits.push({ name, dims: [data.length], dataType: INT64, rawData: new Uint8Array(a.buffer) });
    return name;
  }

  op(opType: string, inputs: string[], attrs: Record<string, number | number[]> = {}, out?: string): string {
    const output = out ?? this.fresh(opType.toLowerCase());
    const attribute: IAttribute[] = Object.entries(attrs).map(([name, v]) =>
      Array.isArray(v) ? { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v } : { name, type: onnx.AttributeProto.AttributeType.INT, i: v },
    );
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
    return output;
  }
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): IValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** The graph's input names, in order: what a caller must feed (batch of rows). */
export function onnxInputNames(L: Layout, bakedTask: boolean): string[] {
  const s = L.schema;
  return [
    ...s.userSingle.map((f) => f.name),
    ...s.userMulti.flatMap((f) => [f.name, `${f.name}_length`]),
    ...(bakedTask ? [] : s.task.map((f) => f.name)),
  ];
}

/** Serialize the model as an ONNX ModelProto. */
export function exportOnnx(w: OnnxWeights, opts: OnnxOptions = {}): Uint8Array {
  const L = w.layout;
  const s = L.schema;
  const E = L.dims.embedDim;
  const { numExpert: K, numOutput: C, mlpDims } = L.dims;
  const dL = L.dLast;
  const P = w.dense;
  const g = new GraphBuilder();
  const inputs: IValueInfo[] = [];
  const dense = (at: number, size: number): Vec => P.subarray(at, at + size);
  const table = (e: number, hint: string): string => g.floats(hint, [L.embeddings[e]!.rows, E], w.tables[e]!);
  if (opts.task && opts.task.length !== s.task.length) throw new Error(`exportOnnx: ${opts.task.length} task codes for ${s.task.length} task fields`);

  // user field vectors u_f [B, E]
  const u: string[] = [];
  s.userSingle.forEach((f, i) => {
    inputs.push(valueInfo(f.name, INT64, ['batch']));
    u.push(g.op('Gather', [table(i, `emb_${f.name}`), f.name], { axis: 0 }));
  });
  const nS = s.userSingle.length;
  const one = g.floats('one', [], [1]);
  s.userMulti.forEach((f, m) => {
    const len = `${f.name}_length`;
    inputs.push(valueInfo(f.name, INT64, ['batch', f.width]), valueInfo(len, INT64, ['batch']));
    const emb = g.op('Gather', [table(nS + m, `emb_${f.name}`), f.name], { axis: 0 }); // [B, W, E]
    const lenCol = g.op('Unsqueeze', [len, g.ints('axis1', [1])]); // [B, 1]
    // slot t counts when t < len (t < width always): the first min(len, width) ids
    const mask = g.op('Cast', [g.op('Less', [g.ints('slots', [...Array(f.width).keys()]), lenCol])], { to: FLOAT }); // [B, W]
    const masked = g.op('Mul', [emb, g.op('Unsqueeze', [mask, g.ints('axis2', [2])])]);
    const sum = g.op('ReduceSum', [masked, g.ints('axis1', [1])], { keepdims: 0 }); // [B, E]
    const den = g.op('Max', [g.op('Cast', [lenCol], { to: FLOAT }), one]);
    u.push(g.op('Div', [sum, den]));
  });
  const F = L.nUser;
  const x = g.op('Concat', u, { axis: 1 }); // [B, F*E]
  const userMean = g.op('Div', [
    g.op('ReduceSum', [g.op('Reshape', [x, g.ints('shape', [-1, F, E])]), g.ints('axis1', [1])], { keepdims: 0 }),
    g.floats('nUser', [], [F]),
  ]);

  // task vector a = (mean user vector, task field vectors) [B, (1+A)*E]
  const nT = s.task.length;
  let taskVecs: string;
  const tableBase = nS + s.userMulti.length;
  if (opts.task) {
    const codes = opts.task;
    const c = new Float32Array(nT * E);
    s.task.forEach((f, j) => {
      const code = codes[j]!;
      if (!Number.isInteger(code) || code < 0 || code > f.maxIdx) throw new Error(`exportOnnx: task field "${f.name}" code ${code} outside [0, ${f.maxIdx}]`);
      c.set(w.tables[tableBase + j]!.subarray(code * E, code * E + E), j * E);
    });
    const batch = g.op('Shape', [x], { start: 0, end: 1 });
    const shape = g.op('Concat', [batch, g.ints('taskWidth', [nT * E])], { axis: 0 });
    taskVecs = g.op('Expand', [g.floats('task_embedding', [1, nT * E], c), shape]);
  } else {
    const t = s.task.map((f, j) => {
      inputs.push(valueInfo(f.name, INT64, ['batch']));
      return g.op('Gather', [table(tableBase + j, `emb_${f.name}`), f.name], { axis: 0 });
    });
    taskVecs = nT > 0 ? g.op('Concat', t, { axis: 1 }) : '';
  }
  const a = nT > 0 ? g.op('Concat', [userMean, taskVecs], { axis: 1 }) : userMean;

  // experts: the first layer of all K experts is one [K*d1, F*E] matrix
  const d1 = mlpDims[0]!;
  let h = g.op('Relu', [
    g.op('Gemm', [x, g.floats('expert_w0', [K * d1, L.inDim], dense(L.at.expertW[0]!, K * d1 * L.inDim)), g.floats('expert_b0', [K * d1], dense(L.at.expertB[0]!, K * d1))], { transB: 1 }),
  ]);
  h = g.op('Transpose', [g.op('Reshape', [h, g.ints('shape', [-1, K, d1])])], { perm: [1, 0, 2] }); // [K, B, d1]
  for (let j = 1; j < mlpDims.length; j++) {
    const dp = mlpDims[j - 1]!;
    const d = mlpDims[j]!;
    // stored [K][d, dp] ([out, in]); MatMul wants [K][dp, d]
    const W = dense(L.at.expertW[j]!, K * d * dp);
    const Wt = new Float32Array(K * dp * d);
    for (let k = 0; k < K; k++) for (let o = 0; o < d; o++) for (let i = 0; i < dp; i++) Wt[k * dp * d + i * d + o] = W[k * d * dp + o * dp + i]!;
    const mm = g.op('MatMul', [h, g.floats(`expert_w${j}`, [K, dp, d], Wt)]);
    h = g.op('Relu', [g.op('Add', [mm, g.floats(`expert_b${j}`, [K, 1, d], dense(L.at.expertB[j]!, K * d))])]); // [K, B, d]
  }

  // softmax(W2 relu(W1 a + b1) + b2)
  const gate = (at: Layout['at']['expertGate'], n: number, hint: string): string => {
    const hid = g.op('Relu', [
      g.op('Gemm', [a, g.floats(`${hint}_w1`, [dL, L.gateDim], dense(at.w1, dL * L.gateDim)), g.floats(`${hint}_b1`, [dL], dense(at.b1, dL))], { transB: 1 }),
    ]);
    const logits = g.op('Gemm', [hid, g.floats(`${hint}_w2`, [n, dL], dense(at.w2, n * dL)), g.floats(`${hint}_b2`, [n], dense(at.b2, n))], { transB: 1 });
    return g.op('Softmax', [logits], { axis: 1 });
  };
  const expertGate = gate(L.at.expertGate, K, 'expert_gate'); // [B, K]
  const gk = g.op('Unsqueeze', [g.op('Transpose', [expertGate], { perm: [1, 0] }), g.ints('axis2', [2])]); // [K, B, 1]
  const fea = g.op('ReduceSum', [g.op('Mul', [h, gk]), g.ints('axis0', [0])], { keepdims: 0 }); // [B, dL]
  const critics = g.op('Sigmoid', [
    g.op('Gemm', [fea, g.floats('critic_w', [C, dL], dense(L.at.criticW, C * dL)), g.floats('critic_b', [C], dense(L.at.criticB, C))], { transB: 1 }),
  ]);
  const criticGate = gate(L.at.criticGate, C, 'critic_gate');
  g.op('ReduceSum', [g.op('Mul', [criticGate, critics]), g.ints('axis1', [1])], { keepdims: 0 }, 'score');

  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'metaheac',
    docString: opts.description ?? '',
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'metaheac',
      node: g.nodes,
      initializer: g.inits,
      input: inputs,
      output: [valueInfo('score', FLOAT, ['batch'])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** One input of the graph: its shape and int64 values. */
export interface OnnxFeed {
  dims: number[];
  data: BigInt64Array;
}

/** Rows [start, start+n) of a part as the graph's inputs (for running it from Node). */
export function onnxFeeds(L: Layout, part: PartData, start: number, n: number, bakedTask: boolean): Record<string, OnnxFeed> {
  const s = L.schema;
  const nS = s.userSingle.length;
  const nM = s.userMulti.length;
  const nT = s.task.length;
  const stride = multiStride(s);
  const offs = multiOffsets(s);
  const feeds: Record<string, OnnxFeed> = {};
  const column = (src: Int32Array, cols: number, j: number): BigInt64Array => {
    const out = new BigInt64Array(n);
    for (let r = 0; r < n; r++) out[r] = BigInt(src[(start + r) * cols + j]!);
    return out;
  };
  s.userSingle.forEach((f, j) => (feeds[f.name] = { dims: [n], data: column(part.single, nS, j) }));
  s.userMulti.forEach((f, m) => {
    const ids = new BigInt64Array(n * f.width);
    for (let r = 0; r < n; r++) for (let t = 0; t < f.width; t++) ids[r * f.width + t] = BigInt(part.multi[(start + r) * stride + offs[m]! + t]!);
    feeds[f.name] = { dims: [n, f.width], data: ids };
    feeds[`${f.name}_length`] = { dims: [n], data: column(part.multiLen, nM, m) };
  });
  if (!bakedTask) s.task.forEach((f, j) => (feeds[f.name] = { dims: [n], data: column(part.task, nT, j) }));
  return feeds;
}

/** The general model of a checkpoint (shaped by its own metadata) as ONNX bytes. */
export function checkpointToOnnx(path: string): { bytes: Uint8Array; layout: Layout; info: Record<string, unknown> } {
  const meta = readCheckpointMeta(path);
  const L = buildLayout(meta.schema, meta.dims);
  const p = allocParams(L, new JsOps(Float32Array));
  const info = loadCheckpoint(path, p);
  const bytes = exportOnnx(p, { description: `MetaHeac general model from ${basename(path)}`, metadata: { source: basename(path), info: JSON.stringify(info) } });
  return { bytes, layout: L, info };
}
