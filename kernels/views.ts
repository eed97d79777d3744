/**
 * Uniform views of a tensor: a per-image tensor (or the rows of a matrix) split into chunks that
 * each fit one 64 KiB uniform binding, read by one dispatch per chunk.
 *
 * Why: on CPU adapters (lavapipe, llvmpipe, SwiftShader) a read from a storage buffer costs about
 * thirty times a read from a uniform buffer, even when the address differs across invocations.
 *
 * A view binding is two bindings: the view (`array<vec4f, viewFloats / 4>`) and the chunk's
 * constants (`Chunk { first, count, base }`): the chunk's first image, its image count, and the
 * float offset of that first image within the view.
 *
 * @module
 */
import { type Binding, ceilDiv } from "./spec.ts";

/** Floats in one uniform binding that every WebGPU device accepts (64 KiB). */
export const UNIFORM_BINDING_FLOATS = 16384;

/** One chunk of rows (images, matrix rows) read through a uniform view. */
export interface ImageChunk {
  /** First image. */
  first: number;
  /** Images in the chunk. */
  count: number;
  /** Float offset of the uniform view in the tensor (a multiple of 64: 256-byte alignment). */
  viewOffset: number;
  /** Float offset of the chunk's first image within the view. */
  base: number;
}

/** How a per-image tensor is split into uniform views. */
export interface ChunkPlan {
  /** Images per chunk (the last may have fewer). */
  images: number;
  /** Floats in each view (the WGSL array length × 4). */
  viewFloats: number;
  /** The chunks. */
  chunks: ImageChunk[];
}

/**
 * Splits `batch` images of `perImage` floats so that each chunk fits one uniform binding of
 * `maxUniformFloats`; null when not even one image fits. Views start at 64-float (256-byte)
 * boundaries; the last is clamped to end at `ceil64(batch · perImage)`, which the buffer must
 * hold (storage buffers here are rounded up to 256 bytes). `maxImages` caps the images per chunk,
 * so that two tensors read side by side can share one chunking.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uniformChunks } from "./views.ts";
 * const plan = uniformChunks(256, 784, 16384)!; // 256 images of 28×28
 * assert.equal(plan.images, 20);
 * assert.equal(plan.chunks.length, 13);
 * ```
 */
export function uniformChunks(
  batch: number,
  perImage: number,
  maxUniformFloats: number,
  maxImages: number = batch,
): ChunkPlan | null {
  const total = ceilDiv(batch * perImage, 64) * 64;
  const viewFloats = Math.min(Math.floor(maxUniformFloats / 64) * 64, total);
  const images = Math.min(
    total <= viewFloats ? batch : Math.floor((viewFloats - 63) / perImage),
    maxImages,
  );
  if (images < 1) return null;
  const chunks: ImageChunk[] = [];
  for (let first = 0; first < batch; first += images) {
    const start = first * perImage;
    const viewOffset = Math.min(Math.floor(start / 64) * 64, total - viewFloats);
    chunks.push({
      first,
      count: Math.min(images, batch - first),
      viewOffset,
      base: start - viewOffset,
    });
  }
  return { images, viewFloats, chunks };
}

/**
 * The constants of each chunk (`first`, `count`, `base`), one 256-byte slot each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chunkConstants, uniformChunks } from "./views.ts";
 * const constants = chunkConstants(uniformChunks(256, 784, 16384)!);
 * assert.deepEqual([...constants.subarray(64, 67)], [20, 20, 0]); // first, count, base
 * ```
 */
export function chunkConstants(plan: ChunkPlan): Uint32Array {
  const out = new Uint32Array(plan.chunks.length * 64);
  plan.chunks.forEach((c, k) => out.set([c.first, c.count, c.base], k * 64));
  return out;
}

/** The two bindings of a view named `view` (then its constants, `chunk` unless named) for `plan`. */
export function viewBindings(view: string, plan: ChunkPlan, chunk = "chunk"): Binding[] {
  return [
    { name: view, type: `array<vec4f, ${plan.viewFloats / 4}>`, access: "uniform" },
    { name: chunk, type: "Chunk", access: "uniform" },
  ];
}

/** WGSL: the `Chunk` struct and `accessor(k)`, the k-th float of the view `view`. */
export function viewHelpers(view: string, accessor: string): string {
  return `struct Chunk { first: u32, count: u32, base: u32 }
${viewAccessor(view, accessor)}`;
}

/** WGSL: `accessor(k)`, the k-th float of the view `view` (a second view shares `Chunk`). */
export function viewAccessor(view: string, accessor: string): string {
  return `fn ${accessor}(k: u32) -> f32 { return ${view}[k >> 2u][k & 3u]; }`;
}
