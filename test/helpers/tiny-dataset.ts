/** A tiny dataset on disk (train, hot and cold splits) for end-to-end tests of train and infer. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePart } from '../../src/data/arrow-part.js';
import { writeSchema } from '../../src/data/dataset.js';
import { TINY_SCHEMA, randomPart } from './tiny.js';

export async function tinyDataset(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mh-ds-'));
  writeSchema(dir, TINY_SCHEMA);
  await writePart(join(dir, 'train_stage1.arrow'), TINY_SCHEMA, randomPart(TINY_SCHEMA, 300, 1, [1, 2, 3, 4, 5, 6]));
  await writePart(join(dir, 'test_hot_stage1.arrow'), TINY_SCHEMA, randomPart(TINY_SCHEMA, 120, 2, [10, 11, 12]));
  await writePart(join(dir, 'test_hot_stage2.arrow'), TINY_SCHEMA, randomPart(TINY_SCHEMA, 150, 3, [10, 11, 12]));
  await writePart(join(dir, 'test_cold_stage1.arrow'), TINY_SCHEMA, randomPart(TINY_SCHEMA, 30, 4, [20, 21, 22, 23]));
  await writePart(join(dir, 'test_cold_stage2.arrow'), TINY_SCHEMA, randomPart(TINY_SCHEMA, 80, 5, [20, 21, 22, 23]));
  return dir;
}

/** A run on dataset `dir`, written to `out`, with the small model `hp` (hyper_parameters.* = value). */
function runOverrides(dir: string, out: string, runner: string[], hp: Record<string, string | number | boolean>): string[] {
  return [
    `runner.train_data_dir=${dir}`,
    `runner.test_data_dir=${dir}`,
    `runner.model_save_path=${out}`,
    ...runner,
    ...Object.entries(hp).map(([k, v]) => `hyper_parameters.${k}=${v}`),
  ];
}

export function tinyOverrides(dir: string, out: string): string[] {
  return runOverrides(dir, out, ['runner.epochs=2'], { embed_dim: 4, mlp_dims: '[6, 5]', num_expert: 3, num_output: 2, batch_size: 16, task_count: 3 });
}

/** The HTML report tests' run: a small model on `data`, one thread, meta-trained or the no-meta baseline. */
export function reportOverrides(data: string, out: string, meta: boolean): string[] {
  return runOverrides(data, out, ['runner.threads=1'], { embed_dim: 4, mlp_dims: '[8]', num_expert: 2, num_output: 2, batch_size: 32, meta });
}
