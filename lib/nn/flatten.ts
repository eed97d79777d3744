/**
 * `Flatten`: [C, H, W] → [C·H·W]. Row-major memory is already flat, so it records no kernel and
 * its output is its input buffer.
 *
 * @module
 */
import { sizeOf } from "../tensor.ts";
import type { Layer, LayerDescription, Op, Parameter, Shape, Workspace } from "./layer.ts";

/**
 * Flattens every dimension but the batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Flatten } from "./flatten.ts";
 * assert.deepEqual(new Flatten().outputShape([16, 5, 5]), [400]);
 * ```
 */
export class Flatten implements Layer {
  /** No parameters. */
  readonly parameters: readonly Parameter[] = [];
  /** The output is the input reinterpreted. */
  readonly reshapeOnly = true;
  /** [product of the input dimensions]. */
  outputShape(input: Shape): Shape {
    return [sizeOf(input)];
  }
  /** No scratch buffers. */
  workspace(): Workspace {
    return {};
  }
  /** No kernel: y is x. */
  forward(): Op[] {
    return [];
  }
  /** No kernel: dx is dy. */
  backward(): Op[] {
    return [];
  }
  /** The layer as data, in PyTorch's terms. */
  describe(): LayerDescription {
    return { type: "Flatten" };
  }
  /** PyTorch's repr. */
  toString(): string {
    return "Flatten(start_dim=1, end_dim=-1)";
  }
}
