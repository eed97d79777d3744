/**
 * `AvgPool2d` and `MaxPool2d`, PyTorch's semantics (stride defaults to the kernel size; average
 * pooling counts padding; max pooling routes the gradient to the first maximum).
 *
 *   x [B, C, H, W] → y [B, C, OH, OW]; max pooling keeps the winners' positions in a workspace.
 *
 * @module
 */
import { windowOutputSize } from "../../kernels/conv2d.ts";
import {
  pool2dBackward,
  pool2dForward,
  type Pool2dShape,
  type PoolKind,
} from "../../kernels/pool.ts";
import type { KernelCall } from "../kernel_runner.ts";
import {
  type BackwardIO,
  expectShape,
  type ForwardIO,
  type Layer,
  pair,
  type Parameter,
  type Shape,
  type Workspace,
} from "./layer.ts";

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
 * import { AvgPool2d } from "./pool.ts";
 * const pool = new AvgPool2d(2, { stride: 2 });
 * console.log(pool.kernelSize, pool.stride); // [2, 2] [2, 2]
 * ```
 */
export abstract class Pool2d implements Layer {
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

  /** Scratch buffers. */
  abstract workspace(batch: number, input: Shape): Workspace;
  /** Forward calls. */
  abstract forward(io: ForwardIO): KernelCall[];
  /** Backward calls. */
  abstract backward(io: BackwardIO): KernelCall[];

  /** PyTorch's repr. */
  toString(): string {
    const name = this.kind === "avg" ? "AvgPool2d" : "MaxPool2d";
    return `${name}(kernel_size=${this.kernelSize[0]}, stride=${this.stride[0]}, padding=${
      this.padding[0]
    })`;
  }
}

/**
 * Average pooling.
 *
 * @example
 * ```ts
 * import { AvgPool2d } from "./pool.ts";
 * console.log(new AvgPool2d(2).outputShape([6, 28, 28])); // [6, 14, 14]
 * ```
 */
export class AvgPool2d extends Pool2d {
  /** Pooling kind. */
  readonly kind: PoolKind = "avg";
  /** No scratch buffers. */
  workspace(): Workspace {
    return {};
  }
  /** y = window means. */
  forward(io: ForwardIO): KernelCall[] {
    return [{
      kernel: pool2dForward("avg", this.shape(io.batch, io.input)),
      buffers: [io.x, io.y],
    }];
  }
  /** dx = dy spread evenly over each window (gated by the fused activation, if any). */
  backward(io: BackwardIO): KernelCall[] {
    if (!io.dx) return [];
    const kernel = pool2dBackward("avg", this.shape(io.batch, io.input), { gate: io.gate });
    return [{ kernel, buffers: [io.dy, ...(io.gate ? [io.x] : []), io.dx] }];
  }
}

/**
 * Max pooling.
 *
 * @example
 * ```ts
 * import { MaxPool2d } from "./pool.ts";
 * console.log(new MaxPool2d(2).outputShape([16, 10, 10])); // [16, 5, 5]
 * ```
 */
export class MaxPool2d extends Pool2d {
  /** Pooling kind. */
  readonly kind: PoolKind = "max";
  /** The winners' positions, one u32 per output. */
  workspace(batch: number, input: Shape): Workspace {
    const out = this.outputShape(input);
    return { argmax: batch * out[0] * out[1] * out[2] * 4 };
  }
  /** y = window maxima. */
  forward(io: ForwardIO): KernelCall[] {
    return [{
      kernel: pool2dForward("max", this.shape(io.batch, io.input)),
      buffers: [io.x, io.y, io.work.argmax],
    }];
  }
  /** dx = dy at each window's winner (gated by the fused activation, if any). */
  backward(io: BackwardIO): KernelCall[] {
    if (!io.dx) return [];
    const kernel = pool2dBackward("max", this.shape(io.batch, io.input), { gate: io.gate });
    return [{ kernel, buffers: [io.dy, io.work.argmax, ...(io.gate ? [io.x] : []), io.dx] }];
  }
}
