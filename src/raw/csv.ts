/**
 * The competition's CSV files: `train.csv` / `test1_truth.csv` (aid, uid, label rows, read
 * into typed arrays) and `adFeature.csv` (one row per ad, a few hundred rows).
 */
import { DataError } from '../util/errors.js';
import { parseId, parseIdText, quote, readLines } from './text.js';

/** Rows of `train.csv` (stage 1) or `test1_truth.csv` (stage 2), in file order. */
export interface LabelledRows {
  n: number;
  aid: Int32Array;
  uid: Int32Array;
  /** 0 or 1: the file's -1 (non-seed) is 0, as the official preprocessing maps it. */
  label: Uint8Array;
}

const ROW_COLUMNS = ['aid', 'uid', 'label'];

/** Start and end of each comma-separated field of [s, e) into `bounds`; returns the column count. */
function splitCommas(buf: Buffer, s: number, e: number, bounds: Int32Array): number {
  let cols = 0;
  let start = s;
  for (let i = s; i <= e; i++) {
    if (i === e || buf[i] === 44) {
      if (cols < bounds.length / 2) {
        bounds[2 * cols] = start;
        bounds[2 * cols + 1] = i;
      }
      cols++;
      start = i + 1;
    }
  }
  return cols;
}

function parseLabel(buf: Buffer, s: number, e: number): number {
  if (e - s === 1 && (buf[s] === 49 || buf[s] === 48)) return buf[s]! - 48;
  if (e - s === 2 && buf[s] === 45 && buf[s + 1] === 49) return 0;
  return -1;
}

/**
 * Read an `aid,uid,label` file. With `header`, line 1 must name the three columns (in any
 * order, as pandas reads them by name); without, the columns are aid, uid, label.
 */
export async function readLabelledRows(path: string, header: boolean, onProgress?: (bytes: number) => void): Promise<LabelledRows> {
  let cap = 1 << 16;
  let aid = new Int32Array(cap);
  let uid = new Int32Array(cap);
  let label = new Uint8Array(cap);
  let n = 0;
  let order = [0, 1, 2];
  const bounds = new Int32Array(6);
  const fail = (lineNo: number, msg: string): never => {
    throw new DataError(`${path}:${lineNo}: ${msg}`);
  };
  await readLines(
    path,
    (buf, s, e, lineNo) => {
      const cols = splitCommas(buf, s, e, bounds);
      if (header && lineNo === 1) {
        const names = buf.toString('utf8', s, e).replace(/^\uFEFF/, '').split(',');
        const found = ROW_COLUMNS.map((c) => names.indexOf(c));
        if (names.length !== 3 || found.includes(-1)) {
          fail(lineNo, `bad header: expected the columns aid,uid,label, found ${quote(buf, s, e)}`);
        }
        order = found;
        return;
      }
      if (cols !== 3) fail(lineNo, `expected 3 columns (${ROW_COLUMNS.join(',')}), found ${cols}: ${quote(buf, s, e)}`);
      const a = parseId(buf, bounds[2 * order[0]!]!, bounds[2 * order[0]! + 1]!);
      const u = parseId(buf, bounds[2 * order[1]!]!, bounds[2 * order[1]! + 1]!);
      const l = parseLabel(buf, bounds[2 * order[2]!]!, bounds[2 * order[2]! + 1]!);
      const bad = a < 0 ? 0 : u < 0 ? 1 : l < 0 ? 2 : -1;
      if (bad >= 0) {
        const at = order[bad]!;
        const expected = bad === 2 ? '1 or -1' : 'a non-negative integer id';
        fail(lineNo, `column ${ROW_COLUMNS[bad]}: expected ${expected}, found ${quote(buf, bounds[2 * at]!, bounds[2 * at + 1]!)}`);
      }
      if (n === cap) {
        cap *= 2;
        aid = grow(aid, cap);
        uid = grow(uid, cap);
        const l2 = new Uint8Array(cap);
        l2.set(label);
        label = l2;
      }
      aid[n] = a;
      uid[n] = u;
      label[n] = l;
      n++;
    },
    onProgress,
  );
  if (header && n === 0) throw new DataError(`${path}: no rows after the header`);
  return { n, aid: aid.slice(0, n), uid: uid.slice(0, n), label: label.slice(0, n) };
}

function grow(a: Int32Array<ArrayBuffer>, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

/** `adFeature.csv`: per aid, the raw value of each requested column (-1 where the cell is empty). */
export interface AdTable {
  fields: string[];
  byAid: Map<number, Int32Array>;
}

export async function readAdFeatures(path: string, fields: string[]): Promise<AdTable> {
  const byAid = new Map<number, Int32Array>();
  let columns: number[] = [];
  let width = 0;
  const fail = (lineNo: number, msg: string): never => {
    throw new DataError(`${path}:${lineNo}: ${msg}`);
  };
  await readLines(path, (buf, s, e, lineNo) => {
    const cells = buf.toString('utf8', s, e).split(',');
    if (lineNo === 1) {
      cells[0] = cells[0]!.replace(/^\uFEFF/, '');
      const missing = ['aid', ...fields].filter((f) => !cells.includes(f));
      if (missing.length > 0) {
        fail(lineNo, `bad header: missing column(s) ${missing.join(', ')}; found ${quote(buf, s, e)}`);
      }
      columns = ['aid', ...fields].map((f) => cells.indexOf(f));
      width = cells.length;
      return;
    }
    if (cells.length !== width) fail(lineNo, `expected ${width} columns as in the header, found ${cells.length}`);
    const aid = parseIdText(cells[columns[0]!]!);
    if (aid < 0) fail(lineNo, `column aid: expected a non-negative integer id, found ${JSON.stringify(cells[columns[0]!])}`);
    if (byAid.has(aid)) fail(lineNo, `aid ${aid} appears twice`);
    const values = new Int32Array(fields.length);
    for (let f = 0; f < fields.length; f++) {
      const cell = cells[columns[f + 1]!]!;
      // An empty cell is a missing value: the official script's fillna('-1').
      const v = cell === '' ? -1 : parseIdText(cell);
      if (v < 0 && cell !== '') {
        fail(lineNo, `column ${fields[f]}: expected a non-negative integer or an empty cell, found ${JSON.stringify(cell)}`);
      }
      values[f] = v;
    }
    byAid.set(aid, values);
  });
  if (columns.length === 0) throw new DataError(`${path}: empty file (expected a header line)`);
  return { fields, byAid };
}
