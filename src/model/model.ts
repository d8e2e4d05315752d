/**
 * One MetaHeac network instance: embedding gather + pooling, the dense network, and the
 * buffers of one batch. It holds no parameters of its own: every call names the dense
 * weights and the view of the tables to use, which is what lets one instance evaluate θ, a task's
 * fast weights θ' = θ - α∇L, or a task's adapted copy without copying the tables.
 */
import type { PartData } from '../data/part.js';
import { BatchBuilder, gatherRows, poolBackward, poolForward, uniformTask, type Batch } from './embedding.js';
import type { Layout } from './layout.js';
import { FirstLayer, type ProjectionMode, type TableProjections } from './first-layer.js';
import type { DropoutRates } from './dropout.js';
import { DenseNet } from './network.js';
import type { Ops, Vec } from './ops.js';
import type { TableView } from './row-set.js';

export class Model {
  readonly builder: BatchBuilder;
  readonly first: FirstLayer;
  readonly net: DenseNet;
  readonly x: Vec;
  readonly dx: Vec;
  readonly a: Vec;
  /** Gathered unique rows per table, and their gradients after backward. */
  readonly local: Vec[];
  readonly dLocal: Vec[];
  /** Dense gradient of the last backward (layout of Params.dense). */
  readonly grad: Vec;
  /**
   * The key of the next training forward's dropout masks (dropout.ts): whoever runs the
   * passes sets it before each, from what identifies the pass (seed, step, task, pass).
   */
  dropoutKey = 0;
  private P: Vec | null = null;

  constructor(
    readonly ops: Ops,
    readonly L: Layout,
    readonly capacity: number,
    projection: ProjectionMode = 'auto',
    /** Dropout in training forwards (none when absent). */
    readonly dropout?: DropoutRates,
  ) {
    this.builder = new BatchBuilder(ops, L, capacity);
    this.first = new FirstLayer(ops, L, capacity, projection);
    this.net = new DenseNet(ops, L, capacity, dropout);
    this.x = ops.alloc(capacity * L.inDim);
    this.dx = ops.alloc(capacity * L.inDim);
    this.a = ops.alloc(capacity * L.gateDim);
    const E = L.dims.embedDim;
    this.local = this.builder.batch.fields.map((f) => ops.alloc(f.uniq.length * E));
    this.dLocal = this.builder.batch.fields.map((f) => ops.alloc(f.uniq.length * E));
    this.grad = ops.alloc(L.denseSize);
  }

  get batch(): Batch {
    return this.builder.batch;
  }

  /** Predictions of the last forward, [batch.n]. */
  get p(): Vec {
    return this.net.p;
  }

  /**
   * Forward rows[start .. start+n) of `part` with dense weights P and the tables as `view`
   * sees them; `needGrad` false when only the predictions are wanted (scoring), then
   * `tables` may give projectTables' output for these weights (first-layer.ts). A forward
   * with needGrad is a training pass: it drops units with the masks of `dropoutKey`.
   */
  forward(view: TableView, P: Vec, part: PartData, rows: ArrayLike<number>, start: number, n: number, needGrad = true, tables?: TableProjections): Batch {
    const b = this.builder.build(part, rows, start, n);
    gatherRows(this.ops, view, b, this.local, this.L.dims.embedDim);
    poolForward(this.ops, this.L, b, this.local, this.x, this.a);
    this.first.forward(P, this.x, b, this.local, this.net.h0, needGrad, false, needGrad ? undefined : tables);
    this.net.forward(P, this.a, n, uniformTask(this.L, b), needGrad ? this.dropoutKey : null);
    this.P = needGrad ? P : null;
    return b;
  }

  /** Mean BCE of the last forward. */
  loss(): number {
    return this.net.loss(this.batch.y, this.batch.n);
  }

  /** Gradients of the last forward's mean BCE: dense into `grad`, rows into `dLocal`. */
  backward(): void {
    if (this.P === null) throw new Error('backward before forward');
    const b = this.batch;
    this.net.backward(this.P, this.a, b.y, b.n, this.grad);
    const E = this.L.dims.embedDim;
    b.fields.forEach((f, e) => this.dLocal[e]!.fill(0, 0, f.nUniq * E));
    this.first.backward(this.P, this.x, b, this.local, this.net.dh0, this.grad, this.dx, this.dLocal);
    poolBackward(this.ops, this.L, b, this.dx, this.net.da, this.dLocal, this.net.taskRows(b.n));
  }
}
