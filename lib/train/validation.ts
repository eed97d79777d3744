/**
 * A validation split held out of the training images: chosen by a seeded generator (the same
 * images for every run with that seed), so that a recipe's choices (the epoch to keep) are made
 * on images it never trains on, and the test split is measured once, on the choice.
 *
 * @module
 */
import { type Split, splitFromArrays } from "../../data/dataset.ts";
import { permutation, Random } from "../random.ts";

/** Salt of the hold-out's generator: independent of the shuffling's, which uses the seed as is. */
const HOLD_OUT_SALT = 0x76616c69; // "vali"

/**
 * Splits `split` into `validation` (`count` images chosen by `seed`, in their original order) and
 * `train` (the rest, in order). Throws unless at least one image is left to train on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holdOut } from "./validation.ts";
 * import { splitFromArrays } from "../../data/dataset.ts";
 * const split = splitFromArrays(Uint8Array.from({ length: 10 * 4 }, (_, k) => k), Uint8Array.from({ length: 10 }, (_, k) => k), 2, 2);
 * const { train, validation } = holdOut(split, 3, 0);
 * assert.deepEqual([train.count, validation.count], [7, 3]);
 * assert.deepEqual([...holdOut(split, 3, 0).validation.labels], [...validation.labels]); // seeded
 * assert.equal(new Set([...train.labels, ...validation.labels]).size, 10);
 * ```
 */
export function holdOut(
  split: Split,
  count: number,
  seed: number,
): { train: Split; validation: Split } {
  if (!(Number.isInteger(count) && count > 0 && count < split.count)) {
    throw new RangeError(
      `a validation split of ${count} images must be a whole number from 1 to ${
        split.count - 1
      } (the training split has ${split.count})`,
    );
  }
  const held = new Uint8Array(split.count);
  for (const row of heldOutRows(split.count, count, seed)) held[row] = 1;
  const px = split.rows * split.cols;
  const take = (keep: 0 | 1) => {
    const n = keep ? count : split.count - count;
    const images = new Uint8Array(n * px), labels = new Uint8Array(n);
    let j = 0;
    for (let i = 0; i < split.count; i++) {
      if (held[i] !== keep) continue;
      images.set(split.images.subarray(i * px, (i + 1) * px), j * px);
      labels[j++] = split.labels[i];
    }
    return splitFromArrays(images, labels, split.rows, split.cols);
  };
  return { train: take(0), validation: take(1) };
}

/**
 * The rows of a `total`-image training split that {@linkcode holdOut} holds out for `seed`, in
 * the order drawn (so that another program, e.g. PyTorch's twin of a run, can hold out the same).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heldOutRows } from "./validation.ts";
 * const rows = heldOutRows(10, 3, 0);
 * assert.equal(rows.length, 3);
 * assert.deepEqual([...heldOutRows(10, 3, 0)], [...rows]); // seeded
 * ```
 */
export function heldOutRows(total: number, count: number, seed: number): Uint32Array {
  return permutation(total, new Random((seed ^ HOLD_OUT_SALT) >>> 0)).slice(0, count);
}
