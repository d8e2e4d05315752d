/** The library entry: the public API of metaheac. */
export * from './data/schema.js';
export * from './data/part.js';
export * from './config/config.js';
export * from './util/errors.js';
export { Rng } from './util/rng.js';
export { Engine, type EngineOptions } from './kernels/engine.js';
export { refGemm, refBiasReluForward, refReluBackward, refColSum } from './kernels/reference.js';
