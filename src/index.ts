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
