/**
 * Lists of users in the formats a marketer exports: CSV (a `uid` column, or one uid a line),
 * plain text (one uid a line), Arrow IPC / Feather and Parquet (a `uid` column, or the only
 * column). `examples` files add a `label` column (1 = seed, 0 or -1 = known non-responder).
 */
import { quoted, readInputFile } from '../util/files.js';
import { extname } from 'node:path';
import { createRequire } from 'node:module';
import { tableFromIPC, type Table } from 'apache-arrow';
import { ChunkError } from '../data/arrow-columns.js';
import { parseUid, uidsOfVector, type Uid } from '../data/uid.js';
import { CampaignError } from './campaign.js';

export interface Examples {
  uid: Uid[];
  label: (0 | 1)[];
}

function read(path: string): Buffer {
  return readInputFile(path);
}

function uidCell(path: string, where: string, s: string): Uid {
  const u = parseUid(s.trim().replace(/^"(.*)"$/, '$1'));
  if (u === undefined) throw new CampaignError(`${path}: ${where}: expected a uid (a non-negative integer below 2^63), found ${quoted(s)}`);
  return u;
}

function parseLabel(path: string, where: string, s: string): 0 | 1 {
  const t = s.trim().replace(/^"(.*)"$/, '$1');
  if (t === '1') return 1;
  if (t === '0' || t === '-1') return 0;
  throw new CampaignError(`${path}: ${where}: expected a label 1, 0 or -1, found ${quoted(s)}`);
}

/** CSV or text: a header naming `uid` (and `label`) or none (uid first, label second). */
function textColumns(path: string, wantLabel: boolean): Examples {
  const lines = read(path).toString('utf8').split(/\r?\n/);
  const out: Examples = { uid: [], label: [] };
  let uidCol = 0;
  let labelCol = 1;
  let start = 0;
  const first = (lines[0] ?? '').replace(/^\uFEFF/, '').split(',');
  if (first.some((c) => c.trim() !== '' && !/^-?\d+$/.test(c.trim().replace(/^"(.*)"$/, '$1')))) {
    const names = first.map((c) => c.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
    uidCol = names.indexOf('uid');
    if (uidCol < 0) {
      if (names.length === 1 && !wantLabel) uidCol = 0;
      else throw new CampaignError(`${path}: line 1: no "uid" column in the header (${first.join(',')})`);
    }
    labelCol = names.indexOf('label');
    if (wantLabel && labelCol < 0) throw new CampaignError(`${path}: line 1: no "label" column in the header (${first.join(',')})`);
    start = 1;
  }
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = line.split(',');
    const where = `line ${i + 1}`;
    if (uidCol >= cells.length) throw new CampaignError(`${path}: ${where}: ${cells.length} column(s), no uid column ${uidCol + 1}`);
    out.uid.push(uidCell(path, where, cells[uidCol]!));
    if (wantLabel) {
      if (labelCol >= cells.length) throw new CampaignError(`${path}: ${where}: expected uid,label, found ${quoted(line)}`);
      out.label.push(parseLabel(path, where, cells[labelCol]!));
    }
  }
  return out;
}

const require = createRequire(import.meta.url);

function readParquetTable(path: string): Table {
  const pq = require('parquet-wasm/node') as typeof import('parquet-wasm/node');
  let ipc: Uint8Array;
  try {
    ipc = pq.readParquet(read(path)).intoIPCStream();
  } catch (e) {
    throw new CampaignError(`${path}: not a readable Parquet file (${String((e as Error).message ?? e)})`);
  }
  return tableFromIPC(ipc);
}

function readArrowTable(path: string): Table {
  try {
    return tableFromIPC(read(path));
  } catch (e) {
    throw new CampaignError(`${path}: not a readable Arrow IPC file (${(e as Error).message})`);
  }
}

function tableColumns(path: string, t: Table, wantLabel: boolean): Examples {
  const names = t.schema.fields.map((f) => f.name);
  const column = (want: string, sole: boolean) => {
    let col = t.getChild(want);
    if (!col && sole && names.length === 1) col = t.getChildAt(0);
    if (!col) throw new CampaignError(`${path}: no "${want}" column (columns: ${names.join(', ')})`);
    return col;
  };
  const uidCol = column('uid', !wantLabel);
  let uid: Uid[];
  try {
    uid = uidsOfVector(uidCol);
  } catch (e) {
    if (e instanceof ChunkError) throw new CampaignError(`${path}: column "uid" row ${e.row}: ${e.what}`);
    throw e;
  }
  const negative = uid.findIndex((u) => u < 0);
  if (negative >= 0) throw new CampaignError(`${path}: column "uid" row ${negative}: expected a uid (a non-negative integer), found ${uid[negative]}`);
  if (!wantLabel) return { uid, label: [] };
  const label = [...column('label', false)].map((l, i) => parseLabel(path, `column "label" row ${i}`, String(l)));
  return { uid, label };
}

function readColumns(path: string, wantLabel: boolean): Examples {
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet' || ext === '.pq') return tableColumns(path, readParquetTable(path), wantLabel);
  if (ext === '.arrow' || ext === '.feather' || ext === '.ipc') return tableColumns(path, readArrowTable(path), wantLabel);
  return textColumns(path, wantLabel);
}

/** The uids of a seeds / negatives file, in file order. */
export function readUidList(path: string): Uid[] {
  return readColumns(path, false).uid;
}

/** The (uid, label) rows of an examples file, in file order. */
export function readExamples(path: string): Examples {
  return readColumns(path, true);
}
