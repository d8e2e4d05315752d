/**
 * CPython's `random` module, bit for bit, for the few calls the official MetaHeac
 * preprocessing makes: `random.seed(int)` and `random.sample(population, k)`. Reproducing
 * them lets `prepare` pick the very same training/test aids as the official script
 * (`random.seed(2021)`, `random.sample(aid_set, len(aid_set) // 2)`); it is not a general
 * source of randomness (that is util/rng.ts).
 *
 * Mersenne Twister MT19937 as in CPython's Modules/_randommodule.c (init_by_array seeding),
 * `getrandbits(k <= 32)`, `_randbelow_with_getrandbits` and `Random.sample` of
 * Lib/random.py; the tests compare with outputs of CPython 3.11.
 */
const N = 624;
const M = 397;

export class PythonRandom {
  private readonly mt = new Uint32Array(N);
  private mti = N + 1;

  /** As `random.seed(seed)` for an integer seed (CPython uses |seed|). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`PythonRandom: seed must be a safe integer, got ${seed}`);
    // The seed's magnitude split into little-endian 32-bit words, at least one.
    const key: number[] = [];
    let n = Math.abs(seed);
    do {
      key.push(n % 0x100000000);
      n = Math.floor(n / 0x100000000);
    } while (n > 0);
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]!;
      mt[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
    this.mti = N;
  }

  private initByArray(key: number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1]!;
      mt[i] = ((mt[i]! ^ Math.imul(prev ^ (prev >>> 30), 1664525)) + key[j]! + j) >>> 0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1]!;
      mt[i] = ((mt[i]! ^ Math.imul(prev ^ (prev >>> 30), 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1]!;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
  }

  private twist(): void {
    const mt = this.mt;
    const mix = (a: number, b: number, c: number): number => {
      const y = (mt[a]! & 0x80000000) | (mt[b]! & 0x7fffffff);
      return (mt[c]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)) >>> 0;
    };
    let kk = 0;
    for (; kk < N - M; kk++) mt[kk] = mix(kk, kk + 1, kk + M);
    for (; kk < N - 1; kk++) mt[kk] = mix(kk, kk + 1, kk + M - N);
    mt[N - 1] = mix(N - 1, 0, M - 1);
    this.mti = 0;
  }

  /** One tempered 32-bit output (CPython's genrand_uint32). */
  uint32(): number {
    if (this.mti >= N) this.twist();
    let y = this.mt[this.mti++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random.getrandbits(k)` for 1 <= k <= 32. */
  getrandbits(k: number): number {
    if (!(k >= 1 && k <= 32)) throw new RangeError(`getrandbits: k must be in 1..32, got ${k}`);
    return this.uint32() >>> (32 - k);
  }

  /** `random._randbelow(n)`: uniform in [0, n) by rejection on bit_length(n) bits. */
  randbelow(n: number): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= 0xffffffff)) throw new RangeError(`randbelow: n must be in 1..2^32-1, got ${n}`);
    const k = 32 - Math.clz32(n);
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }

  /**
   * `random.sample(population, k)`: k distinct elements in selection order. CPython picks
   * one of two algorithms by comparing the population size with the memory of a k-element
   * set; both are reproduced, since they consume the generator differently.
   */
  sample<T>(population: readonly T[], k: number): T[] {
    const n = population.length;
    if (!(Number.isInteger(k) && k >= 0 && k <= n)) throw new RangeError(`sample: k must be in 0..${n}, got ${k}`);
    const result: T[] = [];
    let setsize = 21;
    if (k > 5) setsize += 4 ** Math.ceil(Math.log(k * 3) / Math.log(4));
    if (n <= setsize) {
      const pool = population.slice();
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i);
        result.push(pool[j]!);
        pool[j] = pool[n - i - 1]!;
      }
    } else {
      const selected = new Set<number>();
      for (let i = 0; i < k; i++) {
        let j = this.randbelow(n);
        while (selected.has(j)) j = this.randbelow(n);
        selected.add(j);
        result.push(population[j]!);
      }
    }
    return result;
  }
}
