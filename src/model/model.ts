/**
 * One MetaHeac network instance: embedding gather + pooling, the dense network, and the
 * buffers of one batch. It holds no parameters of its own: every call names the dense
 * weights and the row source to use, which is what lets one instance evaluate θ, a task's
 * fast weights θ' = θ - α∇L, or a task's adapted copy without copying the tables.
 */
import type { PartData } from '../data/part.js';
import { BatchBuilder, gatherRows, poolBackward, poolForward, type Batch } from './embedding.js';
import type { Layout } from './layout.js';
import { DenseNet } from './network.js';
import type { Ops, Vec } from './ops.js';
import type { FloatCtor } from './params.js';
import type { RowSource } from './sparse-rows.js';

export class Model {
  readonly builder: BatchBuilder;
  readonly net: DenseNet;
  private readonly x: Vec;
  private readonly a: Vec;
  /** Gathered unique rows per table, and their gradients after backward. */
  readonly local: Vec[];
  readonly dLocal: Vec[];
  /** Dense gradient of the last backward (layout of Params.dense). */
  readonly grad: Vec;
  private P: Vec | null = null;

  constructor(
    readonly ops: Ops,
    readonly L: Layout,
    readonly capacity: number,
    ctor: FloatCtor = Float32Array,
  ) {
    this.builder = new BatchBuilder(L, capacity);
    this.net = new DenseNet(ops, L, capacity);
    this.x = ops.alloc(capacity * L.inDim);
    this.a = ops.alloc(capacity * L.gateDim);
    const E = L.dims.embedDim;
    this.local = this.builder.batch.fields.map((f) => new ctor(f.uniq.length * E));
    this.dLocal = this.builder.batch.fields.map((f) => new ctor(f.uniq.length * E));
    this.grad = ops.alloc(L.denseSize);
  }

  get batch(): Batch {
    return this.builder.batch;
  }

  /** Predictions of the last forward, [batch.n]. */
  get p(): Vec {
    return this.net.p;
  }

  /** Forward rows[start .. start+n) of `part` with dense weights P and embeddings from src. */
  forward(src: RowSource, P: Vec, part: PartData, rows: ArrayLike<number>, start: number, n: number): Batch {
    const b = this.builder.build(part, rows, start, n);
    gatherRows(src, b, this.local, this.L.dims.embedDim);
    poolForward(this.L, b, this.local, this.x, this.a);
    this.net.forward(P, this.x, this.a, n);
    this.P = P;
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
    this.net.backward(this.P, this.x, this.a, b.y, b.n, this.grad);
    poolBackward(this.L, b, this.net.dx, this.net.da, this.dLocal);
  }
}
