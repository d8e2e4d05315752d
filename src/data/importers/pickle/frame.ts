/**
 * A decoded DataFrame as named columns. Block values are (columns x rows) arrays in C or
 * Fortran order; a column is one row of its block, read in place without copying. Object
 * columns come out as fixed-width lists of int32 ids (from packed cells, or, slowly, from
 * any other list-like cells) or as scalars when their cells are plain numbers.
 */
import { DataError } from '../../../util/errors.js';
import type { CellPack } from './cell-pack.js';
import { PyList } from './list.js';
import { NdArray, elementReader } from './numpy.js';
import { BlockManager, DataFrame, PandasIndex, type Block } from './pandas.js';
import { PickleError, isSlice, typeName } from './values.js';

export interface ScalarColumn {
  kind: 'scalar';
  name: string;
  get(row: number): number;
}

export interface ListColumn {
  kind: 'list';
  name: string;
  width: number;
  /** Copy row `row`'s `width` ids into `dst[at..]`. */
  copyRow(row: number, dst: Int32Array, at: number): void;
}

export type Column = ScalarColumn | ListColumn;

export interface Frame {
  nRows: number;
  columnNames: string[];
  /** Decode a column (lazily: a column never asked for may even have an unreadable dtype). */
  column(name: string): Column;
}

interface Slot {
  block: Block;
  /** Row of the block's values holding this column. */
  j: number;
  /** The names of all the block's columns, by row. */
  blockNames: string[];
}

/**
 * The column positions a block of `count` columns fills, from its slice or int-array
 * placement; a slice is measured before it is expanded, so a hostile one cannot make a
 * billion-entry array.
 */
function placementOf(b: Block, nCols: number, count: number, where: string, i: number): number[] {
  const p = b.placement;
  if (isSlice(p)) {
    const step = p.step ?? 1;
    const start = p.start ?? 0;
    const stop = p.stop ?? nCols;
    if (step <= 0) throw new DataError(`${where}: a block placement with step ${step}`);
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (n !== count) throw new DataError(`${where}: block ${i} has ${count} columns but is placed at ${n}`);
    return Array.from({ length: n }, (_, k) => start + k * step);
  }
  const nd = p as NdArray;
  if (!nd.dtype?.isInteger || nd.shape.length !== 1) throw new DataError(`${where}: a block placement that is not a 1-D int array`);
  const read = elementReader(nd.dtype, nd.data!);
  return Array.from({ length: nd.size }, (_, k) => read(k));
}

function labelsOf(idx: PandasIndex, where: string, limits: Limits): string[] {
  if (idx.length > limits.bytes) throw new DataError(`${where}: the column index claims ${idx.length} columns; a file of ${limits.bytes} bytes cannot hold them`);
  if (idx.range) return Array.from({ length: idx.length }, (_, i) => String(idx.range!.start + i * idx.range!.step));
  const d = idx.data!;
  if (d.dtype!.kind === 'O') {
    const items = d.objects instanceof PyList ? d.objects.toArray() : d.objects!;
    return items.map((x) => {
      if (typeof x === 'string' || typeof x === 'number' || typeof x === 'bigint') return String(x);
      throw new DataError(`${where}: a column label of type ${typeName(x)}; labels must be str or int`);
    });
  }
  const read = elementReader(d.dtype!, d.data!);
  return Array.from({ length: d.size }, (_, i) => String(read(i)));
}

/** Position of element (j, i) of a (k x n) block in its data (bytes in memory order, objects in C order). */
function positioner(values: NdArray, j: number): (i: number) => number {
  const [k, n] = values.shape as [number, number];
  return values.fortran && values.dtype!.kind !== 'O' ? (i) => i * k + j : (i) => j * n + i;
}

/**
 * Widths of a packed object block's columns (each must be the same for every row), or the
 * first cell whose width differs from its column's. Cells are in C order: column by column.
 */
function packLayout(pack: CellPack, values: NdArray): { widths: number[] } | { bad: { j: number; i: number; width: number; expected: number } } {
  const [k, n] = values.shape as [number, number];
  const widths: number[] = new Array<number>(k).fill(-1);
  let cell = 0;
  for (let r = 0; r < pack.runs.length; r += 2) {
    const w = pack.runs.get(r);
    const end = cell + pack.runs.get(r + 1);
    while (cell < end) {
      const j = Math.floor(cell / n);
      if (widths[j] === -1) widths[j] = w;
      else if (widths[j] !== w) return { bad: { j, i: cell - j * n, width: w, expected: widths[j]! } };
      cell = Math.min(end, (j + 1) * n);
    }
  }
  return { widths };
}

function packedColumn(name: string, pack: CellPack, values: NdArray, j: number, layout: number[]): ListColumn {
  const n = values.shape[1]!;
  const width = layout[j]!;
  let start = 0;
  for (let c = 0; c < j; c++) start += n * layout[c]!;
  return { kind: 'list', name, width, copyRow: (row, dst, at) => pack.ids.copyTo(dst, at, start + row * width, width) };
}

/** Integer values of one list-like cell (numpy array, list or tuple of numbers). */
function cellIds(cell: unknown, at: () => string): number[] {
  let values: unknown[];
  if (cell instanceof NdArray) {
    if (!cell.dtype?.isNumeric || cell.shape.length !== 1) {
      throw new DataError(`${at()}: a cell that is not a 1-D numeric array (dtype ${cell.dtype?.code}, shape (${cell.shape.join(', ')}))`);
    }
    const read = elementReader(cell.dtype, cell.data!);
    values = Array.from({ length: cell.size }, (_, i) => read(i));
  } else if (cell instanceof PyList) values = cell.toArray();
  else if (Array.isArray(cell)) values = cell;
  else throw new DataError(`${at()}: a cell of type ${typeName(cell)} among list cells`);
  return values.map((v) => {
    const x = typeof v === 'bigint' || typeof v === 'boolean' ? Number(v) : v;
    if (typeof x !== 'number' || !Number.isInteger(x) || x > 2147483647 || x < -2147483648) {
      throw new DataError(`${at()}: list value ${typeof x === 'number' ? x : typeName(x)} is not an int32 id`);
    }
    return x;
  });
}

function genericObjectColumn(name: string, item: (k: number) => unknown, pos: (i: number) => number, n: number, where: string, limits: Limits): Column {
  const at = (i: number) => `${where}: column "${name}" row ${i}`;
  if (n === 0) throw new DataError(`${where}: column "${name}" is an object column with no rows; cannot tell whether it holds lists`);
  const first = item(pos(0));
  if (typeof first === 'number' || typeof first === 'bigint' || typeof first === 'boolean') {
    return {
      kind: 'scalar',
      name,
      get(i) {
        const v = item(pos(i));
        if (typeof v === 'number') return v;
        if (typeof v === 'bigint' || typeof v === 'boolean') return Number(v);
        throw new DataError(`${at(i)}: a ${typeName(v)} among numbers`);
      },
    };
  }
  if (typeof first === 'string' || first === null) {
    throw new DataError(`${at(0)}: holds ${typeName(first)} values; only numbers and lists of int ids can be imported (exclude the column to skip it)`);
  }
  const width = cellIds(first, () => at(0)).length;
  // Rows may share one list object through the memo: the column's ids must still be ones
  // the file can back, or one long list repeated over every row would fill memory.
  if (n * width > idBudget(limits)) {
    throw new DataError(`${at(0)}: lists of ${width} ids over ${n} rows; a file of ${limits.bytes} bytes cannot hold them (one list repeated over rows?)`);
  }
  for (let i = 1; i < n; i++) {
    const w = cellIds(item(pos(i)), () => at(i)).length;
    if (w !== width) throw new DataError(`${at(i)}: a list of ${w} ids, expected ${width} like row 0 (list cells must all have one width)`);
  }
  return {
    kind: 'list',
    name,
    width,
    copyRow(i, dst, off) {
      dst.set(cellIds(item(pos(i)), () => at(i)), off);
    },
  };
}

/** What the file can back: its size in bytes. */
export interface Limits {
  bytes: number;
}

/** Ids a column of plain lists may hold: as many per byte of file as packed cells may (unpickler.ts). */
function idBudget(limits: Limits): number {
  return 16 * limits.bytes + (1 << 20);
}

function columnOf(name: string, slot: Slot, n: number, where: string, layouts: Map<NdArray, number[]>, limits: Limits): Column {
  const values = slot.block.values;
  const dtype = values.dtype!;
  const pos = positioner(values, slot.j);
  if (dtype.kind !== 'O') {
    if (dtype.unsupported) throw new DataError(`${where}: column "${name}" has ${dtype.unsupported}; only numeric and object columns can be imported (exclude the column to skip it)`);
    const read = elementReader(dtype, values.data!);
    return { kind: 'scalar', name, get: (i) => read(pos(i)) };
  }
  const objects = values.objects!;
  const pack = objects instanceof PyList ? objects.cells : null;
  if (!pack) return genericObjectColumn(name, objects instanceof PyList ? (k) => objects.at(k) : (k) => objects[k], pos, n, where, limits);
  let layout = layouts.get(values);
  if (!layout) {
    const [k] = values.shape as [number, number];
    if (pack.count !== k * n) throw new DataError(`${where}: column "${name}": its object block holds ${pack.count} cells, expected ${k} x ${n}`);
    const l = packLayout(pack, values);
    if ('bad' in l) {
      throw new DataError(`${where}: column "${slot.blockNames[l.bad.j]}" row ${l.bad.i}: a list of ${l.bad.width} ids, expected ${l.bad.expected} (list cells must all have one width)`);
    }
    layout = l.widths;
    layouts.set(values, layout);
  }
  return packedColumn(name, pack, values, slot.j, layout);
}

/**
 * The DataFrame a pickle holds, as named columns; `where` names the file in errors. Row and
 * column counts are checked against what a file of `limits.bytes` can hold before any
 * per-row or per-column array is made.
 */
export function frameFrom(root: unknown, where: string, limits: Limits): Frame {
  return asDataError(where, () => buildFrame(root, where, limits));
}

/** A PickleError met while reading decoded objects (a 2-D index, an unreadable dtype) as a DataError naming the file. */
function asDataError<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof PickleError) throw new DataError(`${where}: ${e.message}`);
    throw e;
  }
}

function buildFrame(root: unknown, where: string, limits: Limits): Frame {
  if (!(root instanceof DataFrame)) throw new DataError(`${where}: the pickle holds a ${typeName(root)}, expected a pandas DataFrame`);
  const mgr = root.mgr;
  if (!(mgr instanceof BlockManager)) throw new DataError(`${where}: the DataFrame's data is a ${typeName(mgr)}, expected a pandas BlockManager`);
  if (mgr.axes.length !== 2 || !mgr.axes.every((a) => a instanceof PandasIndex)) {
    throw new DataError(`${where}: the DataFrame's axes are not two pandas indexes`);
  }
  const [colIndex, rowIndex] = mgr.axes as [PandasIndex, PandasIndex];
  const names = labelsOf(colIndex, where, limits);
  const n = rowIndex.length;
  if (n > limits.bytes) throw new DataError(`${where}: the row index claims ${n} rows; a file of ${limits.bytes} bytes cannot hold them`);
  const slots: (Slot | undefined)[] = new Array(names.length);
  mgr.blocks.forEach((block, b) => {
    const v = block.values;
    if (v.shape.length !== 2 || v.shape[1] !== n) {
      throw new DataError(`${where}: block ${b} has shape (${v.shape.join(', ')}), expected (columns, ${n})`);
    }
    const locs = placementOf(block, names.length, v.shape[0]!, where, b);
    if (locs.length !== v.shape[0]) throw new DataError(`${where}: block ${b} has ${v.shape[0]} columns but is placed at ${locs.length}`);
    const blockNames = locs.map((c) => names[c] ?? String(c));
    locs.forEach((c, j) => {
      if (c < 0 || c >= names.length || slots[c]) throw new DataError(`${where}: block ${b} places a column at ${c}, which is out of range or taken`);
      slots[c] = { block, j, blockNames };
    });
  });
  const missing = names.findIndex((_, c) => !slots[c]);
  if (missing >= 0) throw new DataError(`${where}: column "${names[missing]}" has no data block`);
  if (new Set(names).size !== names.length) throw new DataError(`${where}: duplicate column names`);
  const layouts = new Map<NdArray, number[]>();
  return {
    nRows: n,
    columnNames: names,
    column(name) {
      const c = names.indexOf(name);
      if (c < 0) throw new DataError(`${where}: no column "${name}" (columns: ${names.join(', ')})`);
      return asDataError(where, () => columnOf(name, slots[c]!, n, where, layouts, limits));
    },
  };
}
