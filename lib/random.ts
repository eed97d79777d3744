/**
 * A small seeded generator, so that initialisation and shuffling repeat exactly for a seed on
 * every platform (Math.random cannot be seeded).
 *
 * @module
 */

/**
 * xoshiro128** seeded through splitmix32: fast, 32-bit only (no BigInt), good statistical quality.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "./random.ts";
 * const rng = new Random(42);
 * const u = rng.uniform(-1, 1); // same value for seed 42 everywhere
 * assert.equal(u, new Random(42).uniform(-1, 1)); // the same value for seed 42 everywhere
 * ```
 */
export class Random {
  #s = new Uint32Array(4);

  /** Seeds the generator; any integer (taken modulo 2^32) is a valid seed. */
  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /**
   * The generator's state (four 32-bit words), to save and restore with
   * {@linkcode Random.fromState}: the restored generator continues the same sequence.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Random } from "./random.ts";
   * const a = new Random(3);
   * a.next();
   * const b = Random.fromState(a.state());
   * assert.equal(b.next(), a.next());
   * ```
   */
  state(): number[] {
    return Array.from(this.#s);
  }

  /** A generator that continues from a saved {@linkcode Random.state}. */
  static fromState(state: readonly number[]): Random {
    if (state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
      throw new RangeError(`a generator state is four 32-bit words, got ${JSON.stringify(state)}`);
    }
    const rng = new Random(0);
    rng.#s.set(state);
    return rng;
  }

  /** Next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform float in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!(n > 0 && n <= 4294967296)) {
      throw new RangeError(`Random.int: n must be in 1..2^32, got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    let r: number;
    do r = this.nextUint32(); while (r >= limit);
    return r % n;
  }

  /** Standard normal sample (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A permutation of 0..n-1 (Fisher–Yates) drawn from `rng`: same seed, same order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { permutation, Random } from "./random.ts";
 * const order = permutation(60000, new Random(0));
 * assert.deepEqual([...order].sort((a, b) => a - b).slice(0, 3), [0, 1, 2]);
 * ```
 */
export function permutation(n: number, rng: Random): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
