/**
 * Seeded random numbers. Every random choice in the project goes through one of these, so
 * the same config and seed give the same numbers.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export class Rng {
  private readonly g: ReturnType<typeof xoroshiro128plus>;
  private spare: number | null = null;

  constructor(seed: number) {
    this.g = xoroshiro128plus(seed | 0);
  }

  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    return this.g.next() >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.uint32() >>> 5;
    const lo = this.uint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Marsaglia polar method). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    for (;;) {
      const u = 2 * this.float() - 1;
      const v = 2 * this.float() - 1;
      const r = u * u + v * v;
      if (r > 0 && r < 1) {
        const f = Math.sqrt((-2 * Math.log(r)) / r);
        this.spare = v * f;
        return u * f;
      }
    }
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number } | unknown[]>(a: T): T {
    const arr = a as unknown as number[];
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
    return a;
  }

  /** A child generator whose stream depends on this one's next draw and `salt`. */
  fork(salt = 0): Rng {
    return new Rng((this.uint32() ^ Math.imul(salt + 1, 0x9e3779b1)) | 0);
  }
}
