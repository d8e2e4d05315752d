/**
 * A dataset part as an Apache Arrow IPC file (spec section 7 columns), so pandas, polars,
 * DuckDB and pyarrow users read and write the same files as this project.
 */
export { DEFAULT_BATCH_ROWS, PartWriter, writePart, type PartWriterOptions } from './arrow-write.js';
export { readPart } from './arrow-read.js';
