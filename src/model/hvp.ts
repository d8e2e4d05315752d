/**
 * The Hessian-vector product of a Model's loss, H v, for second-order MAML: the R-operator
 * through the embedding gather and pooling (linear: the direction's rows pooled as the
 * tables are), the first expert layer (both the projected and the direct path: it is
 * bilinear in x and W1, so its R-forward is x V1^T + R{x} W1^T and its R-backward two
 * backwards), and the dense network (network-hvp.ts).
 *
 * Embeddings stay sparse: the direction is read only at the rows the batch touches, and the
 * product is non-zero only there (the loss does not depend on other rows), so H v comes out
 * as one gradient per unique row, like Model.backward's.
 */
import { poolBackward, poolForward } from './embedding.js';
import type { Model } from './model.js';
import { DenseHvp } from './network-hvp.js';
import type { Vec } from './ops.js';

export class ModelHvp {
  readonly dense: DenseHvp;
  /** H v for the dense parameters (layout of Params.dense), after apply(). */
  readonly hv: Vec;
  /** H v per unique row of each table ([nUniq, E], in the batch's uniq order), after apply(). */
  readonly rLocalGrad: Vec[];
  private readonly rLocal: Vec[];
  private readonly rx: Vec;
  private readonly ra: Vec;
  private readonly rdx: Vec;

  constructor(readonly model: Model) {
    const { ops, L, capacity } = model;
    const E = L.dims.embedDim;
    this.dense = new DenseHvp(ops, L, model.net, capacity);
    this.hv = ops.alloc(L.denseSize);
    this.rLocal = model.batch.fields.map((f) => ops.alloc(f.uniq.length * E));
    this.rLocalGrad = model.batch.fields.map((f) => ops.alloc(f.uniq.length * E));
    this.rx = ops.alloc(capacity * L.inDim);
    this.ra = ops.alloc(capacity * L.gateDim);
    this.rdx = ops.alloc(capacity * L.inDim);
  }

  /**
   * H v of the loss of the model's last forward and backward (at dense weights P, which must
   * be the ones that forward used), along v = (V dense, vTables: table-shaped arrays read at
   * the batch's rows only).
   */
  apply(P: Vec, V: Vec, vTables: Vec[]): void {
    const { model } = this;
    const { ops, L } = model;
    const b = model.batch;
    const B = b.n;
    const E = L.dims.embedDim;
    const { first, net } = model;
    for (let e = 0; e < b.fields.length; e++) {
      const f = b.fields[e]!;
      ops.gatherRows(this.rLocal[e]!, vTables[e]!, f.uniq, f.nUniq, E, null, null, 0);
    }
    poolForward(ops, L, b, this.rLocal, this.rx, this.ra);
    first.forward(V, model.x, b, model.local, this.dense.rh0, true);
    first.forward(P, this.rx, b, this.rLocal, this.dense.rh0, true, true);
    this.dense.forward(P, V, model.a, this.ra, B);
    this.dense.backward(P, V, model.a, this.ra, b.y, B, this.hv);
    b.fields.forEach((f, e) => this.rLocalGrad[e]!.fill(0, 0, f.nUniq * E));
    first.backward(P, model.x, b, model.local, this.dense.rdh0, this.hv, this.rdx, this.rLocalGrad);
    first.backward(V, this.rx, b, this.rLocal, net.dh0, this.hv, this.rdx, this.rLocalGrad, true);
    poolBackward(ops, L, b, this.rdx, this.dense.rda, this.rLocalGrad, net.taskRows(B));
  }
}
