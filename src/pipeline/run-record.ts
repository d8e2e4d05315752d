/**
 * What `train` and `infer` record beside their outputs so that a run can be reported on and
 * reproduced later: the config as resolved, the seed, the versions, and the data's vital
 * statistics (`inspect` of the parts the run read). `train.json` and the metrics JSON carry it.
 */
import type { LoadedConfig, Config } from '../config/config.js';
import { describePart, type PartReport } from '../data/inspect.js';
import type { Part } from '../data/part.js';
import { schemaToJson } from '../data/schema.js';
import { versions, type Versions } from '../util/versions.js';

export const TRAIN_RECORD_FILE = 'train.json';

export interface RunContext {
  seed: number;
  /** The config file the run was started from (null: defaults and overrides only). */
  configSource: string | null;
  config: Config;
  versions: Versions;
  data: { schema: ReturnType<typeof schemaToJson>; parts: PartReport[] };
}

export function runContext(cfg: LoadedConfig, parts: { name: string; part: Part }[]): RunContext {
  const { source, ...config } = cfg;
  return {
    seed: cfg.runner.seed,
    configSource: source,
    config,
    versions: versions(),
    data: { schema: schemaToJson(parts[0]!.part.schema), parts: parts.map((p) => describePart(p.name, p.part)) },
  };
}
