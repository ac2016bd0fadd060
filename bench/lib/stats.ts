/**
 * Pure helpers for the benchmarks: a seeded PRNG, a Zipf sampler, percentiles
 * and medians. No I/O, so they are unit-tested (test/bench/stats.test.ts).
 */

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Samples ranks 0..n-1 with P(k) proportional to 1/(k+1)^s (Zipf). Rank 0 is
 * the hottest. Uses the cumulative distribution and a binary search.
 */
export class ZipfSampler {
  readonly n: number;
  readonly s: number;
  readonly #cdf: Float64Array;
  readonly #random: () => number;

  constructor(n: number, s: number, random: () => number = mulberry32(42)) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError("n must be a positive integer");
    if (!(s >= 0)) throw new RangeError("s must be a non-negative number");
    this.n = n;
    this.s = s;
    this.#random = random;
    this.#cdf = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) {
      total += 1 / (k + 1) ** s;
      this.#cdf[k] = total;
    }
    for (let k = 0; k < n; k++) this.#cdf[k]! /= total;
    this.#cdf[n - 1] = 1;
  }

  /** The probability of rank k. */
  probability(k: number): number {
    if (k < 0 || k >= this.n) return 0;
    return this.#cdf[k]! - (k === 0 ? 0 : this.#cdf[k - 1]!);
  }

  /** A rank from 0 (hottest) to n-1. */
  next(): number {
    const u = this.#random();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `count` ranks. */
  sample(count: number): Uint32Array {
    const out = new Uint32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.next();
    return out;
  }
}

/** The p-th percentile (0–100) by linear interpolation between closest ranks. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError("p must be from 0 to 100");
  const sorted = Float64Array.from(values).sort();
  const position = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const weight = position - lower;
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight;
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

/** Runs `a` and `b` `rounds` times, alternating which goes first, so drift hits both alike. */
export async function interleave<A, B>(
  rounds: number,
  a: (round: number) => Promise<A>,
  b: (round: number) => Promise<B>,
): Promise<Array<{ a: A; b: B }>> {
  const results: Array<{ a: A; b: B }> = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      const ra = await a(round);
      const rb = await b(round);
      results.push({ a: ra, b: rb });
    } else {
      const rb = await b(round);
      const ra = await a(round);
      results.push({ a: ra, b: rb });
    }
  }
  return results;
}

/** Elapsed milliseconds since `start` (from process.hrtime.bigint()). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}
