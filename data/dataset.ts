/**
 * The decoded dataset in memory, and CPU batching: seeded shuffling, scaling to [0, 1] (what
 * torchvision's `ToTensor()` does) and an optional bilinear resize applied to a whole batch.
 * Pure web APIs; the GPU trainer does the same gather on the device.
 *
 * @module
 */
import { DataError, decodeIdxImages, decodeIdxLabels, gunzip, sha256Hex } from "./idx.ts";
import type { IdxDatasetSpec, IdxFileSpec } from "./spec.ts";
import { permutation, Random } from "../lib/random.ts";

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
  /** `[displayName, bytes]` for train images. */
  trainImages: [string, Uint8Array];
  /** `[displayName, bytes]` for train labels. */
  trainLabels: [string, Uint8Array];
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
 * import { decodeVerified } from "./dataset.ts";
 * const raw = await decodeVerified("a.idx", new Uint8Array([0, 0, 8, 1, 0, 0, 0, 0]), { file: "a" });
 * ```
 */
export async function decodeVerified(
  name: string,
  bytes: Uint8Array,
  spec: IdxFileSpec,
  verify = true,
): Promise<Uint8Array> {
  const raw = await gunzip(bytes, name);
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
 * ```ts ignore
 * import { datasetFromBytes } from "./dataset.ts";
 * import { FASHION_MNIST } from "./spec.ts";
 * const ds = await datasetFromBytes(FASHION_MNIST, files, "memory");
 * ```
 */
export async function datasetFromBytes(
  spec: IdxDatasetSpec,
  files: IdxFileBytes,
  source: string,
  verify = true,
): Promise<ImageDataset> {
  const raw = await Promise.all(
    (["trainImages", "trainLabels", "testImages", "testLabels"] as const).map((k) =>
      decodeVerified(files[k][0], files[k][1], spec.files[k], verify)
    ),
  );
  const split = (i: number, which: "train" | "test"): Split => {
    const imagesName = files[which === "train" ? "trainImages" : "testImages"][0];
    const labelsName = files[which === "train" ? "trainLabels" : "testLabels"][0];
    const img = decodeIdxImages(raw[i], imagesName);
    const labels = decodeIdxLabels(raw[i + 1], labelsName, spec.classNames.length);
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
  return {
    name: spec.name,
    classNames: spec.classNames,
    train: split(0, "train"),
    test: split(2, "test"),
    source,
  };
}

/** Options of {@linkcode batches}. */
export interface BatchOptions {
  /** Images per batch (the last one may be smaller). Default 256. */
  batchSize?: number;
  /** Shuffle with `seed` (training) or keep file order (evaluation). Default false. */
  shuffle?: boolean;
  /** Seed of the shuffle. Default 0. */
  seed?: number;
  /** Resize to `resize`×`resize` with bilinear interpolation (half-pixel centres). */
  resize?: number;
}

/** A batch of images scaled to [0, 1], N×1×H×W, and their labels. */
export interface Batch {
  /** `size * height * width` floats in [0, 1]. */
  images: Float32Array;
  /** `size` labels. */
  labels: Uint8Array;
  /** Number of images in this batch. */
  size: number;
  /** Height after resizing. */
  height: number;
  /** Width after resizing. */
  width: number;
}

/**
 * Iterates a split in batches, like PyTorch's `DataLoader(batch_size, shuffle)` over
 * `ToTensor()`-scaled images: the same seed gives the same order.
 *
 * @example
 * ```ts ignore
 * import { batches } from "./dataset.ts";
 * for (const b of batches(ds.train, { batchSize: 256, shuffle: true, seed: 1 })) {
 *   console.log(b.size, b.images.length);
 * }
 * ```
 */
export function* batches(split: Split, options: BatchOptions = {}): Generator<Batch> {
  const batchSize = options.batchSize ?? 256;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const order = options.shuffle ? permutation(split.count, new Random(options.seed ?? 0)) : null;
  const out = options.resize ?? split.rows;
  const plan = options.resize ? bilinearPlan(split.rows, split.cols, out, out) : null;
  const srcPixels = split.rows * split.cols;
  const dstPixels = plan ? out * out : srcPixels;
  for (let start = 0; start < split.count; start += batchSize) {
    const size = Math.min(batchSize, split.count - start);
    const images = new Float32Array(size * dstPixels);
    const labels = new Uint8Array(size);
    for (let b = 0; b < size; b++) {
      const idx = order ? order[start + b] : start + b;
      labels[b] = split.labels[idx];
      const src = split.images.subarray(idx * srcPixels, (idx + 1) * srcPixels);
      if (plan) plan(src, images, b * dstPixels);
      else for (let p = 0; p < srcPixels; p++) images[b * dstPixels + p] = src[p] / 255;
    }
    yield { images, labels, size, height: plan ? out : split.rows, width: plan ? out : split.cols };
  }
}

/**
 * Precomputes bilinear taps (half-pixel centres, edge-clamped: PyTorch's
 * `interpolate(mode="bilinear", align_corners=False)`) once, and returns a function that resizes
 * one image and scales it to [0, 1].
 */
export function bilinearPlan(
  srcH: number,
  srcW: number,
  dstH: number,
  dstW: number,
): (src: Uint8Array, dst: Float32Array, offset: number) => void {
  const axis = (src: number, dst: number) => {
    const i0 = new Int32Array(dst), i1 = new Int32Array(dst), w1 = new Float32Array(dst);
    for (let d = 0; d < dst; d++) {
      const s = Math.max((d + 0.5) * (src / dst) - 0.5, 0);
      const lo = Math.min(Math.floor(s), src - 1);
      i0[d] = lo;
      i1[d] = Math.min(lo + 1, src - 1);
      w1[d] = s - lo;
    }
    return { i0, i1, w1 };
  };
  const ys = axis(srcH, dstH), xs = axis(srcW, dstW);
  return (src, dst, offset) => {
    for (let y = 0; y < dstH; y++) {
      const r0 = ys.i0[y] * srcW, r1 = ys.i1[y] * srcW, wy = ys.w1[y];
      for (let x = 0; x < dstW; x++) {
        const c0 = xs.i0[x], c1 = xs.i1[x], wx = xs.w1[x];
        const top = src[r0 + c0] + (src[r0 + c1] - src[r0 + c0]) * wx;
        const bottom = src[r1 + c0] + (src[r1 + c1] - src[r1 + c0]) * wx;
        dst[offset + y * dstW + x] = (top + (bottom - top) * wy) / 255;
      }
    }
  };
}

/**
 * The first `n` images of a split (a view, no copy).
 *
 * @example
 * ```ts ignore
 * import { head } from "./dataset.ts";
 * const small = head(ds.train, 4096);
 * ```
 */
export function head(split: Split, n: number): Split {
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
 * ```ts ignore
 * import { classCounts } from "./dataset.ts";
 * classCounts(ds.train, 10); // [6000, 6000, ...] for Fashion-MNIST
 * ```
 */
export function classCounts(split: Split, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const l of split.labels) counts[l]++;
  return counts;
}
