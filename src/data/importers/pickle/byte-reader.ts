/**
 * Sequential reads from a file through one reused chunk buffer, so a multi-GB pickle is
 * decoded without ever being held whole in memory. Every returned byte string is a copy:
 * a view into the chunk would be overwritten by the next refill.
 */
import { readSync } from 'node:fs';

/** Reading ran past the end of the file; the unpickler turns it into a DataError. */
export class TruncatedError extends Error {
  constructor(readonly wanted: number, readonly at: number) {
    super(`unexpected end of file: ${wanted} more byte(s) needed at byte ${at}`);
  }
}

const CHUNK = 1 << 20;

export class ByteReader {
  private readonly buf = Buffer.allocUnsafeSlow(CHUNK);
  private p = 0;
  private end = 0;
  /** File offset of buf[0]. */
  private base = 0;

  /** Reads [start, size) of the file: `size` is the offset where the pickle's bytes end. */
  constructor(
    private readonly fd: number,
    readonly size: number,
    start = 0,
  ) {
    this.base = start;
  }

  /** Offset of the next byte to be read. */
  get position(): number {
    return this.base + this.p;
  }

  /** Bytes left in the file after the current position. */
  remaining(): number {
    return this.size - this.position;
  }

  /** Make at least `n` (<= CHUNK) bytes available in buf[p..end). */
  private ensure(n: number): void {
    if (this.end - this.p >= n) return;
    if (this.remaining() < n) throw new TruncatedError(n, this.position);
    const keep = this.end - this.p;
    this.buf.copyWithin(0, this.p, this.end);
    this.base += this.p;
    this.p = 0;
    this.end = keep;
    while (this.end < n) {
      const got = readSync(this.fd, this.buf, this.end, CHUNK - this.end, this.base + this.end);
      if (got === 0) throw new TruncatedError(n, this.position);
      this.end += got;
    }
  }

  u8(): number {
    if (this.p < this.end) return this.buf[this.p++]!;
    this.ensure(1);
    return this.buf[this.p++]!;
  }

  u16(): number {
    this.ensure(2);
    const v = this.buf.readUInt16LE(this.p);
    this.p += 2;
    return v;
  }

  u32(): number {
    this.ensure(4);
    const v = this.buf.readUInt32LE(this.p);
    this.p += 4;
    return v;
  }

  i32(): number {
    this.ensure(4);
    const v = this.buf.readInt32LE(this.p);
    this.p += 4;
    return v;
  }

  /** An unsigned 64-bit length; lengths past 2^53 cannot be real and read as truncation. */
  u64(): number {
    this.ensure(8);
    const lo = this.buf.readUInt32LE(this.p);
    const hi = this.buf.readUInt32LE(this.p + 4);
    this.p += 8;
    const v = hi * 4294967296 + lo;
    return Number.isSafeInteger(v) ? v : Number.MAX_SAFE_INTEGER;
  }

  /**
   * `n` bytes as a fresh Buffer. The length is checked against the file size first, so a
   * hostile length field cannot make us allocate more than the file holds.
   */
  bytes(n: number): Buffer {
    if (n > this.remaining()) throw new TruncatedError(n, this.position);
    if (n <= CHUNK) {
      this.ensure(n);
      const out = Buffer.allocUnsafe(n);
      this.buf.copy(out, 0, this.p, this.p + n);
      this.p += n;
      return out;
    }
    const out = Buffer.allocUnsafeSlow(n);
    const have = this.end - this.p;
    this.buf.copy(out, 0, this.p, this.end);
    let filled = have;
    let at = this.position + have;
    while (filled < n) {
      const got = readSync(this.fd, out, filled, Math.min(n - filled, 1 << 30), at);
      if (got === 0) throw new TruncatedError(n - filled, at);
      filled += got;
      at += got;
    }
    this.base = at;
    this.p = 0;
    this.end = 0;
    return out;
  }

  /** Bytes up to (not including) the next newline, as latin-1 text (protocol 0 arguments). */
  line(): string {
    const start = this.position;
    const parts: string[] = [];
    for (;;) {
      const nl = this.buf.indexOf(10, this.p);
      if (nl >= 0 && nl < this.end) {
        parts.push(this.buf.toString('latin1', this.p, nl));
        this.p = nl + 1;
        return parts.join('');
      }
      parts.push(this.buf.toString('latin1', this.p, this.end));
      this.p = this.end;
      if (this.remaining() === 0) throw new TruncatedError(1, start);
      this.ensure(1);
    }
  }
}
