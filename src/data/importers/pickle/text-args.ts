/**
 * Arguments of the text opcodes (protocol 0 spellings that binary pickles may still
 * contain, e.g. from Python 2): decimal ints, repr-quoted byte strings and
 * raw-unicode-escape text.
 */
import { PickleError } from './values.js';

const MAX_DIGITS = 4300;

/** A Python int literal as `int(text, 0)` reads it; bigint past 2^53. */
export function parseIntLiteral(text: string): number | bigint {
  const t = text.trim().replace(/_/g, '');
  // Python itself refuses to parse int literals past 4300 digits (its int_max_str_digits).
  if (t.length > MAX_DIGITS) throw new PickleError(`an int literal of ${t.length} characters (at most ${MAX_DIGITS})`);
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0+|[1-9][0-9]*)$/.exec(t);
  if (!m) throw new PickleError(`"${text}" is not an integer`);
  let digits = m[2]!;
  if (/^0[oO]/.test(digits)) digits = `0o${digits.slice(2)}`;
  const big = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\n': '',
};

/** The STRING opcode's argument: a quoted Python 2 str literal, returned as latin-1 text. */
export function parseQuotedString(text: string): string {
  const q = text[0];
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) {
    throw new PickleError('the STRING opcode argument must be enclosed in quotes');
  }
  const body = text.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new PickleError('trailing backslash in a STRING argument');
    if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
    else if (e === 'x') {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new PickleError(`invalid \\x escape in a STRING argument`);
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else if (/[0-7]/.test(e)) {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      out += String.fromCharCode(parseInt(oct, 8) & 0xff);
      i += oct.length - 1;
    } else out += `\\${e}`;
  }
  return out;
}

/** The UNICODE opcode's argument (raw-unicode-escape): only \uXXXX and \UXXXXXXXX are escapes. */
export function parseRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u: string | undefined, U: string | undefined) =>
    String.fromCodePoint(parseInt((u ?? U)!, 16)),
  );
}
