/**
 * Small Arrow IPC tables of plain numeric columns (a synthetic dataset's truth, an
 * audience), written atomically. Parts and user tables have their own writer (arrow-write.ts).
 */
import { makeTable, tableToIPC } from 'apache-arrow';
import { writeFileAtomic } from '../util/atomic.js';

export type NumericColumn = Int32Array | Float32Array | Float64Array;

/** Columns in the given order, equal lengths, as one Arrow IPC file. */
export function writeNumericTable(path: string, columns: [string, NumericColumn][]): void {
  writeFileAtomic(path, numericTableBytes(columns));
}

export function numericTableBytes(columns: [string, NumericColumn][]): Uint8Array {
  const n = columns[0]?.[1].length ?? 0;
  for (const [name, c] of columns) if (c.length !== n) throw new Error(`column ${name} has ${c.length} rows, expected ${n}`);
  // apache-arrow writes a file it cannot read back when two columns share an ArrayBuffer
  // (the body length counts the buffer once): a column over a buffer already seen is copied
  const seen = new Set<ArrayBufferLike>();
  const own = columns.map(([name, c]): [string, NumericColumn] => [name, seen.has(c.buffer) ? c.slice() : (seen.add(c.buffer), c)]);
  // makeTable keeps each array's own type: Int32, Float32, Float64
  return tableToIPC(makeTable(Object.fromEntries(own) as Record<string, Int32Array>), 'file');
}
