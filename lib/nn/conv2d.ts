/**
 * `Conv2d`: 2-D convolution with bias, PyTorch's semantics, parameter layout and initialisation.
 *
 *   x [B, C, H, W] → y [B, O, OH, OW];  weight [O, C, KH, KW], bias [O]
 *   forward          y = conv(x) + bias                 conv2dForward (+ a fused activation)
 *   backward_weight  partial[b] = per-image dW, db      conv2dBackwardWeight
 *   sum_partials     dW, db = Σ_b partial[b]            sumRows
 *   backward_input   dx = conv_transpose(dy, W)         conv2dBackwardInput (+ a fused gate)
 *
 * Variants come from the candidate tables of `conv_candidates.ts`.
 *
 * @module
 */
import { conv2dBackwardInput, conv2dForward, type Conv2dShape } from "../../kernels/conv2d.ts";
import { conv2dBackwardWeight } from "../../kernels/conv2d_weight.ts";
import { sumRows } from "../../kernels/reduce.ts";
import { windowOutputSize } from "../../kernels/spec.ts";
import type { PoolKind } from "../../kernels/pool.ts";
import type { BufferSlice } from "../gpu/kernel_runner.ts";
import type { Random } from "../random.ts";
import { sizeOf } from "../tensor.ts";
import { candidateCalls, viewConstants } from "./_chunked.ts";
import type { Tuning } from "./choose.ts";
import {
  chooseConvBackwardInput,
  chooseConvBackwardWeight,
  chooseConvForward,
} from "./conv_candidates.ts";
import {
  defaultInit,
  defaultRandom,
  expectShape,
  type LayerDescription,
  type Op,
  pair,
  type Parameter,
  ParametricLayer,
  type Shape,
  storedDy,
  type Workspace,
} from "./layer.ts";
import type { FusedBackwardIO, FusedForwardIO, FusingLayer, FusionWork } from "./fused.ts";

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
 * import assert from "node:assert/strict";
 * import { Conv2d } from "./conv2d.ts";
 * const conv = new Conv2d(1, 6, 5, { padding: 2 });
 * assert.deepEqual(conv.outputShape([1, 28, 28]), [6, 28, 28]);
 * assert.deepEqual(conv.parameters.map((p) => p.shape), [[6, 1, 5, 5], [6]]);
 * ```
 */
export class Conv2d extends ParametricLayer implements FusingLayer {
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

  /**
   * Fuses a following activation into its output, a 2×2 pooling after that into its forward
   * (and, without dx, that pooling's backward into its weight gradient), and the previous
   * activation into its dx.
   */
  readonly fuses = { activation: true, gate: true, pool: true, poolBackward: true } as const;

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

  /** The candidate each kernel runs, from the choosers. */
  #choices(batch: number, input: Shape, tuning: Tuning, pool?: PoolKind, pooledDy?: PoolKind) {
    const shape = this.#shape(batch, input);
    const weightsFit = this.segment.uniformParams !== undefined;
    return {
      shape,
      forward: chooseConvForward(shape, weightsFit, tuning, pool),
      weight: chooseConvBackwardWeight(shape, tuning, pooledDy),
      input: chooseConvBackwardInput(shape, weightsFit, tuning),
    };
  }

  /**
   * The view constants of the candidates that run (the forward's with a fused pooling, the weight
   * gradient's with a folded one), and (training) one row of partial gradients per image.
   */
  workspace(
    batch: number,
    input: Shape,
    training: boolean,
    tuning: Tuning,
    fusion: FusionWork = {},
  ): Workspace {
    const c = this.#choices(batch, input, tuning, fusion.pool, fusion.pooledDy);
    if (!training) return viewConstants("forward", c.forward);
    return {
      ...viewConstants("forward", c.forward),
      ...viewConstants("backward_weight", c.weight),
      ...viewConstants("backward_input", c.input),
      partial: batch * this.#gradientRow() * 4,
    };
  }

  /** Floats of one image's partial gradient: weights then bias. */
  #gradientRow(): number {
    return this.parameters[0].data.length + this.outChannels;
  }

  /** Multiply-adds of the forward pass for one image: each output sums C×KH×KW products. */
  multAdds(input: Shape): number {
    return sizeOf(this.outputShape(input)) * this.inChannels * this.kernelSize[0] *
      this.kernelSize[1];
  }

  /** Floating-point operations of one pass over the batch. */
  #flops(batch: number, input: Shape): number {
    return 2 * batch * this.multAdds(input);
  }

  /** The parameter binding: uniform when the chooser says so; folded ones when given. */
  #weights(uniform: boolean, folded?: FusedForwardIO["weights"]) {
    const source = folded ?? this.segment;
    return uniform ? source.uniformParams! : source.params;
  }

  /** y = conv(x) + bias (then the fused activation and pooling, if any). */
  forward(io: FusedForwardIO): Op[] {
    const pool = io.pool;
    const { shape, forward: choice } = this.#choices(io.batch, io.input, io.tuning, pool?.kind);
    const { inputPlan: plan, uniformWeights, tile } = choice.kernel;
    const w = this.#weights(uniformWeights, io.weights);
    const kernel = conv2dForward(shape, {
      uniformWeights,
      tile,
      activation: io.activation,
      inputPlan: plan,
      pool: pool && { kind: pool.kind, keepInput: pool.keepInput },
    });
    const keepY = !pool || pool.keepInput;
    const argmax = pool?.kind === "max" && pool.keepInput;
    if (argmax && !pool.argmax) throw new Error(`${this}: max pooling fused without argmax`);
    const outputs = [
      ...(keepY ? [io.y] : []),
      ...(pool ? [pool.out] : []),
      ...(argmax ? [pool.argmax!] : []),
    ];
    const calls = candidateCalls(kernel, choice, "forward", { x: io.x }, io.work, [w, ...outputs]);
    const y = io.batch * sizeOf(this.outputShape(io.input));
    const written = (keepY ? y : 0) + (pool ? y / 4 * (argmax ? 2 : 1) : 0);
    return [{
      name: "conv2d.forward",
      variant: choice.variant + (pool ? ` + ${pool.kind}pool${keepY ? "" : " only"}` : ""),
      tuning: choice,
      why: choice.why,
      reads: ["x", io.weights?.slot ?? "params"],
      writes: [
        ...(keepY ? ["y"] : []),
        ...(pool ? ["pooled"] : []),
        ...(argmax ? ["pooled.argmax"] : []),
      ],
      flops: this.#flops(io.batch, io.input) + (pool ? y : 0),
      bytes: 4 * (io.batch * sizeOf(io.input) + written + this.#gradientRow()),
      calls,
    }];
  }

  /** Weight and bias gradients, and dx when asked (gated by the fused activation, if any). */
  backward(io: FusedBackwardIO): Op[] {
    const pooled = io.dyPooled;
    if (pooled && io.dx) throw new Error(`${this}: a pooling's backward folded in, but dx asked`);
    const c = this.#choices(io.batch, io.input, io.tuning, undefined, pooled?.kind);
    const row = this.#gradientRow();
    const xFloats = io.batch * sizeOf(io.input);
    const yFloats = io.batch * sizeOf(this.outputShape(io.input));
    const flops = this.#flops(io.batch, io.input);
    const { variant: weightVariant, dpoolView } = c.weight.kernel;
    const weightKernel = conv2dBackwardWeight(
      c.shape,
      weightVariant,
      pooled && { kind: pooled.kind, gate: pooled.gate, view: dpoolView },
    );
    const partial = io.work.partial;
    // The operands the candidate may view (x; dy, or the folded pooling's gradient), then what a
    // folded pooling's backward computes dy from besides dpool.
    const operands: Record<string, BufferSlice> = pooled
      ? { x: io.x, dpool: pooled.dpool }
      : { x: io.x, dy: storedDy(this, io) };
    const pooledRest = pooled
      ? [...(pooled.kind === "max" ? [pooled.argmax!] : []), ...(pooled.gate ? [io.y] : [])]
      : [];
    const ops: Op[] = [{
      name: "conv2d.backward_weight",
      variant: c.weight.variant +
        (pooled
          ? ` + ${pooled.kind}pool backward${pooled.gate ? ` gate ${pooled.gate}` : ""}`
          : ""),
      tuning: c.weight,
      why: c.weight.why,
      reads: ["x", ...(pooled ? ["pooled.dy", ...(pooled.gate ? ["y"] : [])] : ["dy"])],
      writes: ["work.partial"],
      flops,
      bytes: 4 * (xFloats + yFloats + io.batch * row),
      calls: candidateCalls(weightKernel, c.weight, "backward_weight", operands, io.work, [
        ...pooledRest,
        partial,
      ]),
    }, {
      name: "conv2d.sum_partials",
      variant: "column sums",
      why: "per-image partial gradients need no atomics; one pass adds them",
      reads: ["work.partial"],
      writes: ["grads"],
      flops: io.batch * row,
      bytes: 4 * (io.batch + 1) * row,
      calls: [{ kernel: sumRows(io.batch, row), buffers: [partial, this.segment.grads] }],
    }];
    if (io.dx) {
      const { inputPlan: plan, uniformWeights, tile } = c.input.kernel;
      const w = this.#weights(uniformWeights);
      const gate = io.gate ? [io.x] : [];
      const kernel = conv2dBackwardInput(c.shape, {
        uniformWeights,
        tile,
        gate: io.gate,
        inputPlan: plan,
      });
      const dx = io.dx;
      ops.push({
        name: "conv2d.backward_input",
        variant: c.input.variant + (io.gate ? ` gate ${io.gate}` : ""),
        tuning: c.input,
        why: c.input.why,
        reads: ["dy", "params", ...(io.gate ? ["x"] : [])],
        writes: ["dx"],
        flops,
        bytes: 4 * (yFloats + row + xFloats * (io.gate ? 2 : 1)),
        calls: candidateCalls(
          kernel,
          c.input,
          "backward_input",
          { dy: storedDy(this, io) },
          io.work,
          [
            w,
            ...gate,
            dx,
          ],
        ),
      });
    }
    return ops;
  }

  /** The layer as data, in PyTorch's terms. */
  describe(): LayerDescription {
    return {
      type: "Conv2d",
      in_channels: this.inChannels,
      out_channels: this.outChannels,
      kernel_size: [...this.kernelSize],
      stride: [...this.stride],
      padding: [...this.padding],
    };
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
