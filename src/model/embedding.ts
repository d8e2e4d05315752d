/**
 * The embedding side of MetaHeac (spec section 3, steps 1-4): a batch's ids are reduced to
 * the unique rows it touches per table, those rows are gathered into a compact local table,
 * and pooling (single lookup, length-normalised sum for multi-valued fields, the mean user
 * vector for the gates) runs on local indices. Its backward yields a gradient per unique
 * row: the sparse gradient that the optimisers and fast weights consume.
 */
import type { PartData } from '../data/part.js';
import { multiOffsets, multiStride } from '../data/schema.js';
import type { Layout } from './layout.js';
import type { Ops, Vec } from './ops.js';
import type { TableView } from './row-set.js';

/** One table's view of a batch. */
export interface FieldBatch {
  /** Ids slots per row: 1 for single/task fields, the width for multi-valued ones. */
  width: number;
  /** Unique ids touched, in first-appearance order. */
  uniq: Int32Array;
  nUniq: number;
  /** Local index (into uniq) of every slot, [B, width]; only the first cnt[b] count for multi. */
  local: Int32Array;
  /** Multi-valued only: ids summed per row, min(len, width). */
  cnt: Int32Array | null;
  /** Multi-valued only: 1 / max(len, 1). */
  scale: Vec | null;
  /** Ids summed in the batch: sum of cnt, or the row count. */
  nIds: number;
}

export interface Batch {
  n: number;
  /** Labels of the batch rows in order. */
  y: Uint8Array;
  /** Tables in layout order: single, multi, task. */
  fields: FieldBatch[];
}

/**
 * Whether every row of the batch has the same task (ad) ids, as every batch of one
 * campaign does: then the task part of the gates' input is one vector for all rows
 * (network.ts computes its product once) and its gradient sits in row 0 alone.
 */
export function uniformTask(L: Layout, b: Batch): boolean {
  if (L.nTask === 0 || b.n === 0) return false;
  for (let j = 0; j < L.nTask; j++) if (b.fields[L.nUser + j]!.nUniq !== 1) return false;
  return true;
}

/** Turns row indices of a part into Batches, reusing its buffers. */
export class BatchBuilder {
  /** Per table, per id: [the build that last saw it, its local index then], side by side so one cache line serves both. */
  private readonly seen: Int32Array[];
  private epoch = 0;
  readonly batch: Batch;
  private readonly moffs: number[];
  private readonly mstride: number;

  constructor(
    ops: Ops,
    private readonly L: Layout,
    readonly capacity: number,
  ) {
    const s = L.schema;
    this.moffs = multiOffsets(s);
    this.mstride = multiStride(s);
    this.seen = L.embeddings.map((e) => new Int32Array(2 * e.rows));
    const widths = [...s.userSingle.map(() => 1), ...s.userMulti.map((f) => f.width), ...s.task.map(() => 1)];
    const nS = s.userSingle.length;
    const nM = s.userMulti.length;
    this.batch = {
      n: 0,
      y: new Uint8Array(capacity),
      fields: widths.map((w, e) => {
        const isMulti = e >= nS && e < nS + nM;
        return {
          width: w,
          uniq: ops.allocI32(Math.min(capacity * w, L.embeddings[e]!.rows)),
          nUniq: 0,
          // the kernels read these: they live in the engine's memory
          local: ops.allocI32(capacity * w),
          cnt: isMulti ? ops.allocI32(capacity) : null,
          scale: isMulti ? ops.alloc(capacity) : null,
          nIds: 0,
        };
      }),
    };
  }

  /** Fill the batch with rows[start .. start+n) of `part`. */
  build(part: PartData, rows: ArrayLike<number>, start: number, n: number): Batch {
    if (n > this.capacity) throw new Error(`batch of ${n} rows exceeds capacity ${this.capacity}`);
    const s = this.L.schema;
    const nS = s.userSingle.length;
    const nM = s.userMulti.length;
    const nT = s.task.length;
    this.epoch++;
    if (this.epoch === 0x7fffffff) {
      for (const st of this.seen) st.fill(0);
      this.epoch = 1;
    }
    const ep = this.epoch;
    const b = this.batch;
    b.n = n;
    for (const f of b.fields) {
      f.nUniq = 0;
      f.nIds = n;
    }
    // field by field: a field's local ids depend only on its own ids in row order
    for (let i = 0; i < n; i++) b.y[i] = part.label[rows[start + i]!]!;
    const single = (e: number, src: Int32Array, stride: number, col: number): void => {
      const seen = this.seen[e]!;
      const f = b.fields[e]!;
      const { uniq, local } = f;
      let nu = 0;
      for (let i = 0; i < n; i++) {
        const id = src[rows[start + i]! * stride + col]!;
        const at = 2 * id;
        if (seen[at] !== ep) {
          seen[at] = ep;
          uniq[nu] = id;
          seen[at + 1] = nu++;
        }
        local[i] = seen[at + 1]!;
      }
      f.nUniq = nu;
    };
    for (let j = 0; j < nS; j++) single(j, part.single, nS, j);
    for (let m = 0; m < nM; m++) {
      const e = nS + m;
      const seen = this.seen[e]!;
      const f = b.fields[e]!;
      const { uniq, local, width: w } = f;
      const cnt = f.cnt!;
      const scale = f.scale!;
      const moff = this.moffs[m]!;
      let nu = 0;
      let nIds = 0;
      for (let i = 0; i < n; i++) {
        const r = rows[start + i]!;
        const len = part.multiLen[r * nM + m]!;
        const c = Math.min(len, w);
        cnt[i] = c;
        nIds += c;
        scale[i] = 1 / Math.max(len, 1);
        const base = r * this.mstride + moff;
        for (let t = 0; t < c; t++) {
          const at = 2 * part.multi[base + t]!;
          if (seen[at] !== ep) {
            seen[at] = ep;
            uniq[nu] = at >> 1;
            seen[at + 1] = nu++;
          }
          local[i * w + t] = seen[at + 1]!;
        }
      }
      f.nUniq = nu;
      f.nIds = nIds;
    }
    for (let j = 0; j < nT; j++) single(nS + nM + j, part.task, nT, j);
    return b;
  }
}

/** Gather each table's unique rows, as `view` sees them, into `local[e]` ([nUniq, E]). */
export function gatherRows(ops: Ops, view: TableView, b: Batch, local: Vec[], E: number): void {
  for (let e = 0; e < b.fields.length; e++) {
    const f = b.fields[e]!;
    const over = view.overlay ? view.overlay[e]! : null;
    ops.gatherRows(local[e]!, view.tables[e]!, f.uniq, f.nUniq, E, over ? over.data : null, over ? over.mark : null, view.mode);
  }
}

/** x [B, F*E] = user field vectors; a [B, (1+A)*E] = (mean user vector, task field vectors). */
export function poolForward(ops: Ops, L: Layout, b: Batch, local: Vec[], x: Vec, a: Vec): void {
  const E = L.dims.embedDim;
  const F = L.nUser;
  const xd = L.inDim;
  const ad = L.gateDim;
  const B = b.n;
  for (let e = 0; e < F; e++) {
    const f = b.fields[e]!;
    ops.poolRows(x.subarray(e * E), xd, local[e]!, E, f.local, f.width, f.cnt, f.scale, B, false);
  }
  for (let j = 0; j < L.nTask; j++) {
    const f = b.fields[F + j]!;
    ops.poolRows(a.subarray((1 + j) * E), ad, local[F + j]!, E, f.local, 1, null, null, B, false);
  }
  ops.fieldMean(x, xd, F, E, B, a, ad);
}

/**
 * From dx, da to the gradient of every unique row, added into dLocal[e] ([nUniq, E]).
 * Adds the mean user vector's share (da[:, :E] / F) into every user field's columns of dx
 * first; the columns of projected fields must hold zeros before (first-layer.ts).
 * `taskRows`: how many leading rows of da carry a task-part gradient (1 when the dense
 * net summed a uniform batch's into row 0).
 */
export function poolBackward(ops: Ops, L: Layout, b: Batch, dx: Vec, da: Vec, dLocal: Vec[], taskRows = b.n): void {
  const E = L.dims.embedDim;
  const F = L.nUser;
  const xd = L.inDim;
  const ad = L.gateDim;
  const B = b.n;
  ops.fieldMeanBackward(dx, xd, F, E, B, da, ad);
  for (let e = 0; e < F; e++) {
    const f = b.fields[e]!;
    ops.scatterRows(dLocal[e]!, E, f.local, f.width, f.cnt, f.scale, B, dx.subarray(e * E), xd);
  }
  for (let j = 0; j < L.nTask; j++) {
    const f = b.fields[F + j]!;
    ops.scatterRows(dLocal[F + j]!, E, f.local, 1, null, null, taskRows, da.subarray((1 + j) * E), ad);
  }
}
