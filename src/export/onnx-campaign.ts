/**
 * A campaign's adapted model as ONNX: the general model adapted to the campaign's seeds
 * exactly as `expand` adapts it (its stage-1 rows in the same order, the same Adapter,
 * optimizer, epochs and seed), with the adapted embedding rows written into the tables and
 * the campaign's task codes baked into the graph. Sits beside serve/, above expand/.
 */
import type { LoadedConfig } from '../config/config.js';
import { allocatePart, copyRows } from '../data/part-ops.js';
import { readTaskVocab } from '../data/task-vocab.js';
import { examplesOf, findUsers, loadCampaignFile, resolveDataPaths, rowOf, taskCodes } from '../expand/index.js';
import { createOps } from '../kernels/index.js';
import { Adapter } from '../meta/adapt.js';
import { adaptOptionsFor, layoutFor, paramsFromCheckpoint, schemaFor } from '../meta/model-setup.js';
import { exportOnnx } from '../model/onnx-export.js';
import type { Layout } from '../model/layout.js';
import type { Vec } from '../model/ops.js';
import { UserError } from '../util/errors.js';

export interface CampaignOnnx {
  bytes: Uint8Array;
  layout: Layout;
  /** The task codes baked in, by field. */
  task: Record<string, number>;
  /** Stage-1 rows adapted on (users found), of which positives. */
  examples: { rows: number; positives: number };
  adaptation: { steps: number; lastLoss: number };
}

export async function campaignToOnnx(cfg: LoadedConfig, checkpoint: string, campaignFile: string, users?: string): Promise<CampaignOnnx> {
  const paths = resolveDataPaths(cfg, users);
  const c = loadCampaignFile(campaignFile);
  const schema = schemaFor(cfg, paths.schema, paths.schemaPath);
  const codes = taskCodes(c, schema, paths.taskVocab ? readTaskVocab(paths.taskVocab) : null, paths.taskVocab);
  const ex = examplesOf(c);
  const found = await findUsers(paths.lookup, schema, new Set(ex.uid));
  const kept = ex.uid.map((u, i) => [rowOf(found, u), ex.label[i]!] as const).filter(([r]) => r !== undefined);
  if (!kept.some(([, l]) => l === 1)) throw new UserError(`${c.source}: none of the campaign's seed uids is in ${paths.lookup}`);
  const rows = allocatePart(schema, kept.length);
  const userOnly = { ...schema, task: [] };
  const nt = schema.task.length;
  kept.forEach(([r, l], i) => {
    copyRows(userOnly, found.data, r!, { ...rows, task: new Int32Array(0) }, i, 1);
    rows.label[i] = l;
    rows.aid[i] = c.key;
    rows.task.set(codes.codes, i * nt);
  });
  const ops = await createOps(cfg.runner.threads);
  try {
    const L = layoutFor(cfg, schema);
    const { params } = paramsFromCheckpoint(ops, L, checkpoint);
    const adapter = new Adapter(ops, params, adaptOptionsFor(cfg));
    const adaptation = adapter.adapt(rows, Int32Array.from({ length: rows.nRows }, (_, i) => i), c.key);
    const w = adapter.snapshot();
    // the adapted rows replace the general model's in full copies of the tables
    const E = L.dims.embedDim;
    const tables: Vec[] = params.tables.map((t, e) => {
      const copy = Float32Array.from(t);
      const over = w.view.overlay![e]!;
      for (let i = 0; i < over.n; i++) {
        const id = over.ids[i]!;
        copy.set(over.data.subarray(id * E, id * E + E), id * E);
      }
      return copy;
    });
    const task = Object.fromEntries(schema.task.map((f, i) => [f.name, codes.codes[i]!]));
    const bytes = exportOnnx(
      { layout: L, dense: w.dense, tables },
      { task: codes.codes, description: `MetaHeac model adapted to campaign ${c.name}`, metadata: { campaign: c.name, task: JSON.stringify(task), checkpoint } },
    );
    return { bytes, layout: L, task, examples: { rows: rows.nRows, positives: kept.filter(([, l]) => l === 1).length }, adaptation };
  } finally {
    await ops.close();
  }
}
