/**
 * The decoded dataset in memory: splits of raw bytes (pixels 0..255 and labels), as the IDX files
 * hold them. Batching — shuffling, scaling to [0, 1] and resizing — happens on the device
 * (`kernels/batch.ts`), the same way for training, evaluation and prediction. Pure web APIs.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { decodeIdxImages, decodeIdxLabels, gunzip, sha256Hex } from "./idx.ts";
import type { IdxDatasetSpec, IdxFileSpec } from "./spec.ts";

/** One split: `count` images of `rows`×`cols` bytes and their labels. */
export interface Split {
  /** Number of images. */
  count: number;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** Pixels, `count * rows * cols` bytes, row-major, 0..255. */
  images: Uint8Array;
  /** Labels, one byte per image. */
  labels: Uint8Array;
}

/** A dataset: train and test splits with class names. */
export interface ImageDataset {
  /** Dataset name, e.g. `fashion-mnist`. */
  name: string;
  /** Class names, index = label. */
  classNames: readonly string[];
  /** Training split. */
  train: Split;
  /** Test split. */
  test: Split;
  /** Where the files came from (a folder or URL), for logs. */
  source: string;
}

/** The raw (possibly gzip) bytes of the four files, with names used in error messages. */
export interface IdxFileBytes {
  /** `[displayName, bytes]` for train images (absent: the train split is left empty). */
  trainImages?: [string, Uint8Array];
  /** `[displayName, bytes]` for train labels (with the train images). */
  trainLabels?: [string, Uint8Array];
  /** `[displayName, bytes]` for test images. */
  testImages: [string, Uint8Array];
  /** `[displayName, bytes]` for test labels. */
  testLabels: [string, Uint8Array];
}

/**
 * Decompresses one file and checks the SHA-256 of its decoded bytes against `spec`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeVerified } from "./dataset.ts";
 * const raw = await decodeVerified("a.idx", new Uint8Array([0, 0, 8, 1, 0, 0, 0, 0]), { file: "a" });
 * assert.equal(raw.length, 8); // not gzip: returned as it is
 * ```
 */
export async function decodeVerified(
  name: string,
  bytes: Uint8Array,
  spec: IdxFileSpec,
  verify = true,
): Promise<Uint8Array> {
  const raw = await gunzip(bytes, name, spec.bytes);
  if (verify && spec.sha256) {
    const hash = await sha256Hex(raw);
    if (hash !== spec.sha256) {
      throw new DataError(
        name,
        `SHA-256 of the decompressed data is ${hash}, expected ${spec.sha256} (corrupt or a different file)`,
      );
    }
  }
  return raw;
}

/**
 * Builds a dataset from the bytes of its four files: decompresses, verifies and decodes them,
 * and checks that images and labels agree in count (and with `spec.counts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetFromBytes } from "./dataset.ts";
 * import { FASHION_MNIST } from "./spec.ts";
 * const read = (name: string) => Deno.readFile(new URL(`./fashion-mnist/${name}`, import.meta.url));
 * const f = FASHION_MNIST.files;
 * const ds = await datasetFromBytes(FASHION_MNIST, {
 *   trainImages: [f.trainImages.file, await read(f.trainImages.file)],
 *   trainLabels: [f.trainLabels.file, await read(f.trainLabels.file)],
 *   testImages: [f.testImages.file, await read(f.testImages.file)],
 *   testLabels: [f.testLabels.file, await read(f.testLabels.file)],
 * }, "the checkout");
 * assert.equal(ds.test.count, 10000);
 * ```
 */
export async function datasetFromBytes(
  spec: IdxDatasetSpec,
  files: IdxFileBytes,
  source: string,
  verify = true,
): Promise<ImageDataset> {
  const split = async (which: "train" | "test"): Promise<Split | undefined> => {
    const imagesFile = files[which === "train" ? "trainImages" : "testImages"];
    const labelsFile = files[which === "train" ? "trainLabels" : "testLabels"];
    if (!imagesFile || !labelsFile) return undefined;
    const [imagesName, labelsName] = [imagesFile[0], labelsFile[0]];
    const [rawImages, rawLabels] = await Promise.all([
      decodeVerified(imagesName, imagesFile[1], spec.files[`${which}Images`], verify),
      decodeVerified(labelsName, labelsFile[1], spec.files[`${which}Labels`], verify),
    ]);
    const img = decodeIdxImages(rawImages, imagesName);
    const labels = decodeIdxLabels(rawLabels, labelsName, spec.classNames.length);
    if (labels.length !== img.count) {
      throw new DataError(
        labelsName,
        `has ${labels.length} labels but ${imagesName} has ${img.count} images`,
      );
    }
    const expected = spec.counts?.[which];
    if (expected !== undefined && img.count !== expected) {
      throw new DataError(imagesName, `has ${img.count} images, expected ${expected}`);
    }
    return { count: img.count, rows: img.rows, cols: img.cols, images: img.pixels, labels };
  };
  const [train, test] = await Promise.all([split("train"), split("test")]);
  const empty = (like: Split): Split => ({
    ...like,
    count: 0,
    images: new Uint8Array(0),
    labels: new Uint8Array(0),
  });
  return {
    name: spec.name,
    classNames: spec.classNames,
    train: train ?? empty(test!),
    test: test!,
    source,
  };
}

/**
 * A split from raw arrays: `images` holds `labels.length` images of `rows × cols` bytes. For
 * small or synthetic datasets (tests, examples, your own data in the same layout).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitFromArrays } from "./dataset.ts";
 * const split = splitFromArrays(new Uint8Array(2 * 4 * 4), Uint8Array.of(3, 7), 4, 4);
 * assert.equal(split.count, 2);
 * assert.throws(() => splitFromArrays(new Uint8Array(5), Uint8Array.of(1), 2, 2), /5 bytes/);
 * ```
 */
export function splitFromArrays(
  images: Uint8Array,
  labels: Uint8Array,
  rows: number,
  cols: number,
): Split {
  for (const [name, v] of [["rows", rows], ["cols", cols]] as const) {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  }
  if (images.length !== labels.length * rows * cols) {
    throw new RangeError(
      `images has ${images.length} bytes, ${labels.length} images of ${rows}×${cols} need ${
        labels.length * rows * cols
      }`,
    );
  }
  return { count: labels.length, rows, cols, images, labels };
}

/**
 * The first `n` images of a split (a view, no copy).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { head, splitFromArrays } from "./dataset.ts";
 * const split = splitFromArrays(new Uint8Array(3 * 4), Uint8Array.of(1, 2, 3), 2, 2);
 * assert.deepEqual([...head(split, 2).labels], [1, 2]);
 * assert.throws(() => head(split, -1), /head: n must be a whole number of at least 0, got -1/);
 * ```
 */
export function head(split: Split, n: number): Split {
  if (!(typeof n === "number" && (Number.isInteger(n) || n === Infinity) && n >= 0)) {
    throw new RangeError(`head: n must be a whole number of at least 0, got ${n}`);
  }
  const count = Math.min(n, split.count), px = split.rows * split.cols;
  return {
    ...split,
    count,
    images: split.images.subarray(0, count * px),
    labels: split.labels.subarray(0, count),
  };
}

/**
 * Counts images per class in a split.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classCounts, splitFromArrays } from "./dataset.ts";
 * const split = splitFromArrays(new Uint8Array(3), Uint8Array.of(0, 2, 2), 1, 1);
 * assert.deepEqual(classCounts(split, 3), [1, 0, 2]);
 * ```
 */
export function classCounts(split: Split, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const l of split.labels) counts[l]++;
  return counts;
}
