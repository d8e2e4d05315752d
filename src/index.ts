/** The library entry: the public API of metaheac. */
export * from './data/schema.js';
export * from './data/part.js';
export * from './config/config.js';
export * from './util/errors.js';
export { Rng } from './util/rng.js';
export { writePart, readPart, DEFAULT_BATCH_ROWS } from './data/arrow-part.js';
export * from './data/dataset.js';
export { validatePartData } from './data/validate.js';
