/** The library entry: the public API of metaheac. */
export * from './data/schema.js';
export * from './data/part.js';
export * from './config/config.js';
export * from './util/errors.js';
export { Rng } from './util/rng.js';
export * from './data/arrow-part.js';
export * from './data/dataset.js';
export { validatePartData } from './data/validate.js';
export { allocatePart, copyRows, sliceRows, type ExtraKind } from './data/part-ops.js';
export * from './eval/metrics.js';
export { synthesize, DEFAULT_SYNTH_SEED, type SynthOptions, type SynthSummary } from './data/synth.js';
export { PRESETS, PRESET_NAMES, type SynthPreset } from './data/synth-presets.js';
export { inspectDataset, type InspectReport, type PartReport } from './data/inspect.js';
export { readPicklePart, planPickle, fillRows, type PickleImportOptions, type PickledPart, type PicklePlan } from './data/importers/pickle-part.js';
export { importPickles, pickleSources, picklePartName, listPickles, type PickleSource, type PickleImportResult, type ImportedPart, type ImportOptions } from './data/importers/pickle-import.js';
export { ensureArrowFromPaddleDir, paddleCacheDir } from './data/importers/paddle-cache.js';
export { unpickleFile } from './data/importers/pickle/unpickler.js';
