/** import-checkpoint refuses NaN or infinite weights at import, naming the tensor, and writes nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSchema } from '../src/data/dataset.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';
import type { MetaGradInputs } from './helpers/meta-grad-inputs.js';
import { TINY_SCHEMA } from './helpers/tiny.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/checkpoints/', import.meta.url));
const inputs = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/meta-grad/inputs.json', import.meta.url)), 'utf8')) as MetaGradInputs;

test('import-checkpoint: a NaN or an infinity in a torch.save file is refused naming the tensor and element; nothing is written', (t) => {
  const dir = tempDir(t);
  writeSchema(dir, TINY_SCHEMA);
  const cfg = join(dir, 'cfg.yaml');
  writeFileSync(cfg, `runner:\n  train_data_dir: ${dir}\nhyper_parameters:\n  embed_dim: 4\n  mlp_dims: [5, 3]\n  num_expert: 3\n  num_output: 2\n`);
  const legacy = readFileSync(join(FIX, 'torch_legacy.pt'));
  for (const [tensor, value, shown] of [['mlp.0.mlp.0.weight', NaN, 'NaN'], ['embedding.ad_emb.embeddings.1.weight', -Infinity, '-Infinity']] as const) {
    // the legacy format stores each float32 storage raw: overwrite the tensor's element 1
    const was = Buffer.alloc(4);
    was.writeFloatLE(inputs.weights[tensor]!.data[1]!);
    const at = legacy.indexOf(was);
    assert.ok(at > 0 && legacy.indexOf(was, at + 1) < 0, 'the value occurs once');
    const bad = Buffer.from(legacy);
    bad.writeFloatLE(value, at);
    const pt = join(dir, `${tensor}.pt`);
    writeFileSync(pt, bad);
    const out = join(dir, 'out.safetensors');
    const r = runCli('import-checkpoint', pt, '--config', cfg, '--out', out);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `metaheac: error: ${pt}: tensor "${tensor}" holds ${shown} at element 1; weights must be finite numbers, nothing imported\n`);
    assert.ok(!existsSync(out));
  }
});
