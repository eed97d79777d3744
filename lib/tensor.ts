/**
 * The tensor vocabulary shared by every room of `lib/`: shapes, and float32 tensors on the CPU as
 * a `state_dict` or a safetensors file holds them.
 *
 * @module
 */

/** A tensor shape, e.g. a per-sample `[C, H, W]` (no batch dimension) or a weight `[O, C, KH, KW]`. */
export type Shape = readonly number[];

/** A float32 tensor on the CPU, as stored in a `state_dict` or safetensors file. */
export interface Tensor {
  /** Shape, PyTorch order. */
  shape: Shape;
  /** Values, row-major. */
  data: Float32Array;
}

/**
 * Elements in a shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sizeOf } from "./tensor.ts";
 * assert.equal(sizeOf([6, 1, 5, 5]), 150);
 * ```
 */
export function sizeOf(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}
