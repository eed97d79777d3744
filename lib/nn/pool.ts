/**
 * `AvgPool2d` and `MaxPool2d`, PyTorch's semantics (stride defaults to the kernel size; average
 * pooling counts padding; max pooling routes the gradient to the first maximum).
 *
 *   x [B, C, H, W] → y [B, C, OH, OW]; max pooling keeps the winners' positions in a workspace.
 *   forward   y = window means / maxima        pool2dForward
 *   backward  dx from dy (+ a fused gate)      pool2dBackward, tiled or gather (choose.ts)
 *
 * @module
 */
import {
  pool2dBackward,
  pool2dForward,
  type Pool2dShape,
  POOLINGS,
  type PoolKind,
} from "../../kernels/pool.ts";
import { windowOutputSize } from "../../kernels/spec.ts";
import { sizeOf } from "../tensor.ts";
import { choosePoolBackward } from "./pool_candidates.ts";
import {
  expectShape,
  type ForwardIO,
  type LayerDescription,
  type Op,
  pair,
  type Parameter,
  type Shape,
  storedDy,
  type Workspace,
} from "./layer.ts";
import type { FusedBackwardIO, FusiblePoolingLayer, FusingLayer } from "./fused.ts";

/** Options of a pooling layer. */
export interface Pool2dOptions {
  /** Stride; default the kernel size. */
  stride?: number | [number, number];
  /** Padding; default 0. */
  padding?: number | [number, number];
}

/**
 * Base of the pooling layers: window, stride (default: the window) and padding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AvgPool2d } from "./pool.ts";
 * const pool = new AvgPool2d(3, { padding: 1 });
 * assert.deepEqual([pool.kernelSize, pool.stride, pool.padding], [[3, 3], [3, 3], [1, 1]]);
 * ```
 */
export abstract class Pool2d implements FusingLayer, FusiblePoolingLayer {
  /** No parameters. */
  readonly parameters: readonly Parameter[] = [];
  /** Fuses the backward of a preceding activation into its dx. */
  readonly fuses: { readonly gate: true } = { gate: true };
  /** Window [KH, KW]. */
  readonly kernelSize: [number, number];
  /** Stride [SH, SW]. */
  readonly stride: [number, number];
  /** Padding [PH, PW]. */
  readonly padding: [number, number];
  /** Pooling kind. */
  abstract readonly kind: PoolKind;

  /** A pooling layer with PyTorch's defaults. */
  constructor(kernelSize: number | [number, number], options: Pool2dOptions = {}) {
    this.kernelSize = pair(kernelSize);
    this.stride = pair(options.stride ?? kernelSize);
    this.padding = pair(options.padding ?? 0);
  }

  /** The kernel shape for a batch. */
  protected shape(batch: number, input: Shape): Pool2dShape {
    return {
      batch,
      channels: input[0],
      height: input[1],
      width: input[2],
      kernel: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
    };
  }

  /** [C, OH, OW] for [C, H, W]. */
  outputShape(input: Shape): Shape {
    expectShape(this, input, input.length === 3, "[C, H, W]");
    const [oh, ow] = windowOutputSize(
      [input[1], input[2]],
      this.kernelSize,
      this.stride,
      this.padding,
    );
    expectShape(this, input, oh > 0 && ow > 0, "an image at least as large as the window");
    return [input[0], oh, ow];
  }

  /** Its kind when it can run inside the previous layer's forward: 2×2, stride 2, even input. */
  fusiblePooling(input: Shape): PoolKind | null {
    const [k, s, p] = [this.kernelSize, this.stride, this.padding];
    const tiles = k[0] === 2 && k[1] === 2 && s[0] === 2 && s[1] === 2 && !p[0] && !p[1];
    return tiles && input[1] % 2 === 0 && input[2] % 2 === 0 ? this.kind : null;
  }

  /** Scratch buffers: the winners' positions for max pooling. */
  workspace(batch: number, input: Shape): Workspace {
    return this.kind === "max" ? { argmax: batch * sizeOf(this.outputShape(input)) * 4 } : {};
  }

  /** y = window means or maxima. */
  forward(io: ForwardIO): Op[] {
    const max = this.kind === "max";
    const out = io.batch * sizeOf(this.outputShape(io.input));
    return [{
      name: `${this.kind}pool2d.forward`,
      variant: "per output",
      why: "one invocation per output reads its window",
      reads: ["x"],
      writes: ["y", ...(max ? ["work.argmax"] : [])],
      flops: out * this.kernelSize[0] * this.kernelSize[1],
      bytes: 4 * (io.batch * sizeOf(io.input) + out * (max ? 2 : 1)),
      calls: [{
        kernel: pool2dForward(this.kind, this.shape(io.batch, io.input)),
        buffers: [io.x, io.y, ...(max ? [io.work.argmax] : [])],
      }],
    }];
  }

  /** dx = dy spread over each window, or sent to its winner (gated by a fused activation). */
  backward(io: FusedBackwardIO): Op[] {
    const dy = storedDy(this, io);
    if (!io.dx) return [];
    const max = this.kind === "max";
    const shape = this.shape(io.batch, io.input);
    const choice = choosePoolBackward(shape, this.kind, io.tuning);
    const kernel = pool2dBackward(this.kind, shape, { variant: choice.kernel, gate: io.gate });
    const out = io.batch * sizeOf(this.outputShape(io.input));
    const inputs = io.batch * sizeOf(io.input);
    return [{
      name: `${this.kind}pool2d.backward`,
      variant: choice.variant + (io.gate ? ` gate ${io.gate}` : ""),
      tuning: choice,
      why: choice.why,
      reads: ["dy", ...(max ? ["work.argmax"] : []), ...(io.gate ? ["x"] : [])],
      writes: ["dx"],
      flops: inputs * (io.gate ? 3 : 1),
      bytes: 4 * (out * (max ? 2 : 1) + inputs * (io.gate ? 2 : 1)),
      calls: [{
        kernel,
        buffers: [dy, ...(max ? [io.work.argmax] : []), ...(io.gate ? [io.x] : []), io.dx],
      }],
    }];
  }

  /** The layer as data, in PyTorch's terms. */
  describe(): LayerDescription {
    return {
      type: POOLINGS[this.kind].torch,
      kernel_size: [...this.kernelSize],
      stride: [...this.stride],
      padding: [...this.padding],
    };
  }

  /** PyTorch's repr. */
  toString(): string {
    const name = POOLINGS[this.kind].torch;
    return `${name}(kernel_size=${this.kernelSize[0]}, stride=${this.stride[0]}, padding=${
      this.padding[0]
    })`;
  }
}

/**
 * Average pooling (padding counts towards the mean, as PyTorch's default).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AvgPool2d } from "./pool.ts";
 * assert.deepEqual(new AvgPool2d(2).outputShape([6, 28, 28]), [6, 14, 14]);
 * ```
 */
export class AvgPool2d extends Pool2d {
  /** Pooling kind. */
  readonly kind: PoolKind = "avg";
}

/**
 * Max pooling (the gradient goes to the first maximum of each window).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MaxPool2d } from "./pool.ts";
 * assert.deepEqual(new MaxPool2d(2).outputShape([16, 10, 10]), [16, 5, 5]);
 * ```
 */
export class MaxPool2d extends Pool2d {
  /** Pooling kind. */
  readonly kind: PoolKind = "max";
}

/**
 * PyTorch's `AdaptiveAvgPool2d(1)`: the mean of each channel's whole plane, [C, H, W] → [C, 1, 1]
 * (global average pooling). It runs the average-pooling kernels with the plane as the window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdaptiveAvgPool2d } from "./pool.ts";
 * const gap = new AdaptiveAvgPool2d(1);
 * assert.deepEqual(gap.outputShape([64, 7, 7]), [64, 1, 1]);
 * assert.equal(String(gap), "AdaptiveAvgPool2d(output_size=1)");
 * assert.throws(() => new AdaptiveAvgPool2d(2), /output_size 1/);
 * ```
 */
export class AdaptiveAvgPool2d implements FusingLayer, FusiblePoolingLayer {
  /** No parameters. */
  readonly parameters: readonly Parameter[] = [];
  /** Fuses the backward of a preceding activation into its dx. */
  readonly fuses: { readonly gate: true } = { gate: true };
  /** The output side (1: one value per channel). */
  readonly outputSize: 1 = 1;

  /** `AdaptiveAvgPool2d(output_size)`; only 1 (or [1, 1]) is supported. */
  constructor(outputSize: number | [number, number] = 1) {
    const [h, w] = pair(outputSize);
    if (h !== 1 || w !== 1) {
      throw new RangeError(
        `AdaptiveAvgPool2d: only output_size 1 (global average pooling) is supported, got ${outputSize}`,
      );
    }
  }

  /** The average pooling this is for an input: one window over the whole plane. */
  #pool(input: Shape): AvgPool2d {
    expectShape(this, input, input.length === 3, "[C, H, W]");
    return new AvgPool2d([input[1], input[2]]);
  }

  /** [C, 1, 1] for [C, H, W]. */
  outputShape(input: Shape): Shape {
    return this.#pool(input).outputShape(input);
  }

  /** No scratch buffers. */
  workspace(): Workspace {
    return {};
  }

  /** Its kind when it can run inside the previous layer's forward (a 2×2 input). */
  fusiblePooling(input: Shape): PoolKind | null {
    return this.#pool(input).fusiblePooling(input);
  }

  /** y = each plane's mean. */
  forward(io: ForwardIO): Op[] {
    return this.#pool(io.input).forward(io);
  }

  /** dx = dy / (H·W) over each plane (gated by a fused activation). */
  backward(io: FusedBackwardIO): Op[] {
    return this.#pool(io.input).backward(io);
  }

  /** The layer as data, in PyTorch's terms. */
  describe(): LayerDescription {
    return { type: "AdaptiveAvgPool2d", output_size: 1 };
  }

  /** PyTorch's repr. */
  toString(): string {
    return "AdaptiveAvgPool2d(output_size=1)";
  }
}
