/**
 * `Conv2d`: 2-D convolution with bias, PyTorch's semantics, parameter layout and initialisation.
 *
 *   x [B, C, H, W] → y [B, O, OH, OW];  weight [O, C, KH, KW], bias [O]
 *   forward: conv2dForward; backward: conv2dBackwardWeight + sumRows (weight and bias gradients),
 *   conv2dBackwardInput (dx, skipped for the first layer).
 *
 * @module
 */
import {
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  type Conv2dShape,
  conv2dWeightGradPlan,
  windowOutputSize,
} from "../../kernels/conv2d.ts";
import { sumRows } from "../../kernels/reduce.ts";
import { chunkConstants, UNIFORM_BINDING_FLOATS } from "../../kernels/spec.ts";
import type { KernelCall } from "../kernel_runner.ts";
import type { Random } from "../random.ts";
import {
  type BackwardIO,
  defaultInit,
  defaultRandom,
  expectShape,
  type ForwardIO,
  type Layer,
  pair,
  type Parameter,
  ParametricLayer,
  type Shape,
  type Workspace,
} from "./layer.ts";

/** Options of {@linkcode Conv2d}. */
export interface Conv2dOptions {
  /** Stride, default 1. */
  stride?: number | [number, number];
  /** Zero padding, default 0. */
  padding?: number | [number, number];
  /** Generator for the initial weights; default a generator seeded with 0. */
  rng?: Random;
}

/**
 * A 2-D convolution layer.
 *
 * @example
 * ```ts
 * import { Conv2d } from "./conv2d.ts";
 * const conv = new Conv2d(1, 6, 5, { padding: 2 });
 * console.log(conv.outputShape([1, 28, 28])); // [6, 28, 28]
 * ```
 */
export class Conv2d extends ParametricLayer implements Layer {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Kernel size. */
  readonly kernelSize: [number, number];
  /** Stride. */
  readonly stride: [number, number];
  /** Padding. */
  readonly padding: [number, number];
  /** weight [O, C, KH, KW] and bias [O]. */
  readonly parameters: readonly Parameter[];

  /** Fuses a following activation into its output, and the previous one into its dx. */
  readonly fuses = { activation: true, gate: true } as const;

  /** PyTorch's `Conv2d(in, out, kernel_size, stride, padding)` with default initialisation. */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | [number, number],
    options: Conv2dOptions = {},
  ) {
    super();
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize);
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    const rng = options.rng ?? defaultRandom();
    const fanIn = inChannels * this.kernelSize[0] * this.kernelSize[1];
    const weightShape = [outChannels, inChannels, ...this.kernelSize];
    this.parameters = [
      { name: "weight", shape: weightShape, data: defaultInit(outChannels * fanIn, fanIn, rng) },
      { name: "bias", shape: [outChannels], data: defaultInit(outChannels, fanIn, rng) },
    ];
  }

  #shape(batch: number, input: Shape): Conv2dShape {
    return {
      batch,
      inChannels: this.inChannels,
      height: input[1],
      width: input[2],
      outChannels: this.outChannels,
      kernel: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
    };
  }

  /** [O, OH, OW] for [C, H, W]. */
  outputShape(input: Shape): Shape {
    expectShape(
      this,
      input,
      input.length === 3 && input[0] === this.inChannels,
      `[${this.inChannels}, H, W]`,
    );
    const [oh, ow] = windowOutputSize(
      [input[1], input[2]],
      this.kernelSize,
      this.stride,
      this.padding,
    );
    expectShape(this, input, oh > 0 && ow > 0, "an image at least as large as the kernel");
    return [this.outChannels, oh, ow];
  }

  /** One row of partial weight and bias gradients per image, and the dy chunk constants. */
  workspace(batch: number, input: Shape, training: boolean): Workspace {
    if (!training) return {};
    const row = this.parameters[0].data.length + this.outChannels;
    const plan = conv2dWeightGradPlan(this.#shape(batch, input), UNIFORM_BINDING_FLOATS);
    return plan
      ? { partial: batch * row * 4, chunks: chunkConstants(plan) }
      : { partial: batch * row * 4 };
  }

  /** The parameter binding: uniform when it fits (much cheaper reads on CPU adapters). */
  #weights() {
    const { uniformParams, params } = this.segment;
    return { uniformWeights: uniformParams !== undefined, buffer: uniformParams ?? params };
  }

  /** y = conv(x) + bias (then the fused activation, if any). */
  forward(io: ForwardIO): KernelCall[] {
    const w = this.#weights();
    const kernel = conv2dForward(this.#shape(io.batch, io.input), {
      uniformWeights: w.uniformWeights,
      activation: io.activation,
    });
    return [{ kernel, buffers: [io.x, w.buffer, io.y] }];
  }

  /** Weight and bias gradients, and dx when asked (gated by the fused activation, if any). */
  backward(io: BackwardIO): KernelCall[] {
    const shape = this.#shape(io.batch, io.input);
    const row = this.parameters[0].data.length + this.outChannels;
    const plan = conv2dWeightGradPlan(shape, UNIFORM_BINDING_FLOATS);
    const calls: KernelCall[] = [];
    if (plan) {
      // One dispatch per chunk of images, each reading its x through a uniform view.
      const kernel = conv2dBackwardWeight(shape, plan);
      const xOffset = io.x.offset ?? 0;
      if (xOffset % 256) {
        throw new Error(`${this}: x must start at a 256-byte boundary, got ${xOffset}`);
      }
      plan.chunks.forEach((chunk, k) => {
        const view = {
          buffer: io.x.buffer,
          offset: xOffset + chunk.viewOffset * 4,
          size: plan.viewFloats * 4,
        };
        const constants = { buffer: io.work.chunks.buffer, offset: k * 256, size: 16 };
        calls.push({ kernel, buffers: [view, constants, io.dy, io.work.partial] });
      });
    } else {
      calls.push({ kernel: conv2dBackwardWeight(shape), buffers: [io.x, io.dy, io.work.partial] });
    }
    calls.push({ kernel: sumRows(io.batch, row), buffers: [io.work.partial, this.segment.grads] });
    if (io.dx) {
      const w = this.#weights();
      const kernel = conv2dBackwardInput(shape, {
        uniformWeights: w.uniformWeights,
        gate: io.gate,
      });
      calls.push({ kernel, buffers: [io.dy, w.buffer, ...(io.gate ? [io.x] : []), io.dx] });
    }
    return calls;
  }

  /** PyTorch's repr. */
  override toString(): string {
    const extra =
      (this.stride[0] !== 1 || this.stride[1] !== 1 ? `, stride=(${this.stride.join(", ")})` : "") +
      (this.padding[0] || this.padding[1] ? `, padding=(${this.padding.join(", ")})` : "");
    return `Conv2d(${this.inChannels}, ${this.outChannels}, kernel_size=(${
      this.kernelSize.join(", ")
    })${extra})`;
  }
}
