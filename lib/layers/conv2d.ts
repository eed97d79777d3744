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
  windowOutputSize,
} from "../../kernels/conv2d.ts";
import { sumRows } from "../../kernels/reduce.ts";
import { chunkConstants, UNIFORM_BINDING_FLOATS, uniformChunks } from "../../kernels/spec.ts";
import type { KernelCall } from "../kernel_runner.ts";
import type { Random } from "../random.ts";
import {
  type BackwardIO,
  chunkedCalls,
  defaultInit,
  defaultRandom,
  expectShape,
  type ForwardIO,
  type Layer,
  pair,
  type Parameter,
  ParametricLayer,
  type Shape,
  sizeOf,
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

  /**
   * Uniform views: of x (forward and the weight gradient) and of dy (the input gradient), when
   * one image fits in a view; null otherwise (then storage reads).
   */
  #plans(batch: number, input: Shape) {
    const shape = this.#shape(batch, input);
    const [oh, ow] = this.outputShape(input).slice(1);
    return {
      shape,
      x: uniformChunks(batch, sizeOf(input), UNIFORM_BINDING_FLOATS),
      dy: uniformChunks(batch, this.outChannels * oh * ow, UNIFORM_BINDING_FLOATS),
    };
  }

  /** Chunk constants of the views, and (training) one row of partial gradients per image. */
  workspace(batch: number, input: Shape, training: boolean): Workspace {
    const { x, dy } = this.#plans(batch, input);
    const out: Workspace = {};
    if (x) out.xChunks = chunkConstants(x);
    if (training) {
      out.partial = batch * (this.parameters[0].data.length + this.outChannels) * 4;
      if (dy) out.dyChunks = chunkConstants(dy);
    }
    return out;
  }

  /** The parameter binding: uniform when it fits (much cheaper reads on CPU adapters). */
  #weights() {
    const { uniformParams, params } = this.segment;
    return { uniformWeights: uniformParams !== undefined, buffer: uniformParams ?? params };
  }

  /** y = conv(x) + bias (then the fused activation, if any). */
  forward(io: ForwardIO): KernelCall[] {
    const { shape, x: plan } = this.#plans(io.batch, io.input);
    const w = this.#weights();
    const kernel = conv2dForward(shape, {
      uniformWeights: w.uniformWeights,
      activation: io.activation,
      inputPlan: plan ?? undefined,
    });
    if (!plan) return [{ kernel, buffers: [io.x, w.buffer, io.y] }];
    return chunkedCalls(
      kernel,
      plan,
      io.x,
      io.work.xChunks,
      (view, chunk) => [view, chunk, w.buffer, io.y],
    );
  }

  /** Weight and bias gradients, and dx when asked (gated by the fused activation, if any). */
  backward(io: BackwardIO): KernelCall[] {
    const { shape, x: xPlan, dy: dyPlan } = this.#plans(io.batch, io.input);
    const row = this.parameters[0].data.length + this.outChannels;
    const weightKernel = conv2dBackwardWeight(shape, xPlan);
    const calls: KernelCall[] = xPlan
      ? chunkedCalls(
        weightKernel,
        xPlan,
        io.x,
        io.work.xChunks,
        (view, chunk) => [view, chunk, io.dy, io.work.partial],
      )
      : [{ kernel: weightKernel, buffers: [io.x, io.dy, io.work.partial] }];
    calls.push({ kernel: sumRows(io.batch, row), buffers: [io.work.partial, this.segment.grads] });
    if (io.dx) {
      const w = this.#weights();
      const gate = io.gate ? [io.x] : [];
      const kernel = conv2dBackwardInput(shape, {
        uniformWeights: w.uniformWeights,
        gate: io.gate,
        inputPlan: dyPlan ?? undefined,
      });
      const dx = io.dx;
      calls.push(
        ...(dyPlan
          ? chunkedCalls(
            kernel,
            dyPlan,
            io.dy,
            io.work.dyChunks,
            (view, chunk) => [view, chunk, w.buffer, ...gate, dx],
          )
          : [{ kernel, buffers: [io.dy, w.buffer, ...gate, dx] }]),
      );
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
