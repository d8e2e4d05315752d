/**
 * Byte-level reading of the raw competition files. The real `userFeature.data` has 11.4 M
 * lines, so lines are handed out as (buffer, start, end) ranges of a reused read buffer:
 * no per-line string, regex or split.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DataError } from '../util/errors.js';
import { yieldToSignals } from '../util/interrupt.js';

/** Called once per line; `end` excludes the newline and a trailing carriage return. */
export type LineHandler = (buf: Buffer, start: number, end: number, lineNo: number) => void;

export interface LineStats {
  lines: number;
  bytes: number;
}

/** Size of a file in bytes, or a DataError naming it. */
export function fileSize(path: string): number {
  const fd = openForReading(path);
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

function openForReading(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/**
 * Stream `path` line by line. `onProgress` gets the bytes read so far after each chunk.
 * A line longer than the chunk grows the buffer, so no line is ever cut. Between chunks the
 * event loop may turn (yieldToSignals), so that SIGINT / SIGTERM are handled during a
 * multi-GB file; lines are still handed out synchronously within a chunk.
 */
export async function readLines(
  path: string,
  onLine: LineHandler,
  onProgress: (bytesRead: number) => void = () => {},
  chunkSize = 8 << 20,
): Promise<LineStats> {
  const fd = openForReading(path);
  let buf = Buffer.allocUnsafe(chunkSize);
  let filled = 0;
  let lineNo = 0;
  let bytes = 0;
  const emit = (view: Buffer, s: number, e: number): void => {
    lineNo++;
    onLine(view, s, e > s && view[e - 1] === 13 ? e - 1 : e, lineNo);
  };
  try {
    for (;;) {
      if (filled === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const n = readSync(fd, buf, filled, buf.length - filled, null);
      if (n === 0) {
        if (filled > 0) emit(buf.subarray(0, filled), 0, filled);
        break;
      }
      bytes += n;
      const end = filled + n;
      // A view ending at `end`, so indexOf never scans stale bytes of the previous chunk.
      const view = buf.subarray(0, end);
      let pos = 0;
      for (let nl = view.indexOf(10, pos); nl >= 0; nl = view.indexOf(10, pos)) {
        emit(view, pos, nl);
        pos = nl + 1;
      }
      buf.copy(buf, 0, pos, end);
      filled = end - pos;
      onProgress(bytes);
      await yieldToSignals();
    }
  } finally {
    closeSync(fd);
  }
  return { lines: lineNo, bytes };
}

/** The largest id the typed arrays hold. */
export const MAX_ID = 0x7fffffff;

/** A non-negative decimal integer spanning exactly [s, e), or -1 when it is not one. */
export function parseId(buf: Buffer, s: number, e: number): number {
  if (s >= e || e - s > 10) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v <= MAX_ID ? v : -1;
}

/** `parseId` for a string (the small adFeature.csv is read as text). */
export function parseIdText(text: string): number {
  if (!/^[0-9]{1,10}$/.test(text)) return -1;
  const v = Number(text);
  return v <= MAX_ID ? v : -1;
}

/** The bytes [s, e) quoted for an error message, shortened when long. */
export function quote(buf: Buffer, s: number, e: number): string {
  const text = buf.toString('utf8', s, Math.min(e, s + 40));
  return JSON.stringify(e - s > 40 ? `${text}...` : text);
}
