/** The library entry: the public API of metaheac. */
export * from './data/schema.js';
export * from './data/part.js';
export * from './config/config.js';
export * from './util/errors.js';
export { Rng } from './util/rng.js';
export { writePart, readPart, DEFAULT_BATCH_ROWS } from './data/arrow-part.js';
export * from './data/dataset.js';
export { validatePartData } from './data/validate.js';
export { prepareRaw, maxIdxsYaml } from './raw/prepare.js';
export type { PrepareOptions, PrepareSummary, TaskSummary, TaskSplitName, FileThroughput } from './raw/prepare.js';
export { RAW_FILES } from './raw/files.js';
export { generateRaw, shapeAtScale, REAL_SHAPE } from './raw/generate.js';
export type { RawShape, GeneratedFiles } from './raw/generate.js';
export { DEFAULT_COLD_THRESHOLD, type ColdBasis } from './raw/split.js';
export type { MultiVocabBasis } from './raw/users.js';
export { PythonRandom } from './util/pyrandom.js';
