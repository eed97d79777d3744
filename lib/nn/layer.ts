/**
 * The layer contract: what every layer is — its own forward and backward, nothing of its
 * neighbours (what a layer does of its neighbours' work when the fusion pass asks is the contract
 * of `fused.ts`). A layer describes its parameters (with PyTorch's initial values), its
 * output shape, the scratch buffers it needs per batch size, and the ops of its forward and
 * backward passes: named kernel calls with the variant a chooser picked, what they read and
 * write, and their cost. It allocates nothing itself: a model places parameters in one flat
 * buffer and binds each layer's segment, and the step plan (`lib/train/plan.ts`) allocates
 * activations and wires layers together.
 *
 * Shapes are per sample (no batch dimension): `[C, H, W]` for images, `[F]` for features.
 *
 * @module
 */
import type { BufferSlice, KernelCall } from "../gpu/kernel_runner.ts";
import type { Shape } from "../tensor.ts";
import { Random } from "../random.ts";
import { DEFAULTS } from "../defaults.ts";
import type { Tuning } from "./choose.ts";

export type { Shape } from "../tensor.ts";

/**
 * Buffers a layer asks for, by name: a number is a zeroed storage buffer of that many bytes, kept
 * from forward to backward; a Uint32Array is a uniform buffer holding those constants.
 */
export type Workspace = Record<string, number | Uint32Array>;

/** A parameter tensor with its values on the CPU (initial, or loaded). */
export interface Parameter {
  /** Name within its layer: `weight` or `bias`. */
  name: string;
  /** PyTorch shape, e.g. `[6, 1, 5, 5]`. */
  shape: readonly number[];
  /** Values, row-major. */
  data: Float32Array;
}

/** The buffers of one forward pass through a layer. */
export interface ForwardIO {
  /** Batch size. */
  batch: number;
  /** Per-sample input shape. */
  input: Shape;
  /** Input activations [batch, ...input]. */
  x: BufferSlice;
  /** Output activations [batch, ...outputShape(input)]. */
  y: BufferSlice;
  /** The scratch buffers the layer asked for in `workspace`. */
  work: Readonly<Record<string, BufferSlice>>;
  /**
   * PyTorch's `module.training`: batch statistics and dropout (a training step) rather than
   * running statistics and the identity (evaluation, prediction, inspection).
   */
  training: boolean;
  /**
   * A uniform `[seed, step, 0, 0]` (u32) the trainer writes before each training step: what a
   * layer that draws random numbers on the device (Dropout) draws them from.
   */
  noise: BufferSlice;
  /** The layer's index among the network's leaf layers: what salts its random draws. */
  position: number;
  /** Measured variant picks and the default rules, for the choosers (`choose.ts`). */
  tuning: Tuning;
}

/** The buffers of one backward pass: the forward's, plus the gradients. */
export interface BackwardIO extends ForwardIO {
  /**
   * Gradient of the loss with respect to y; null when it is not stored (the fusion pass folded
   * the backward of the layer after into this one: see `lib/nn/fused.ts`).
   */
  dy: BufferSlice | null;
  /** Gradient with respect to x, or null when nobody needs it (the first layer). */
  dx: BufferSlice | null;
}

/** Where a layer's parameters and their gradients live on the device. */
export interface ParameterSegment {
  /** Weights then bias, as in `parameters`. */
  params: BufferSlice;
  /** Gradients, same layout. */
  grads: BufferSlice;
  /** Its buffers (`buffers`: running statistics), kept apart from the parameters. */
  state?: BufferSlice;
  /**
   * The parameters again, sized for a uniform binding (`array<vec4f>`), when the segment fits
   * the device's uniform limit: uniform reads are much cheaper than storage reads on CPU adapters.
   */
  uniformParams?: BufferSlice;
}

/**
 * One step of a pass: kernel calls that do one thing (e.g. a convolution's weight gradient), the
 * variant its chooser picked and why, what it reads and writes, and what it costs.
 */
export interface Op {
  /** What it computes, e.g. `conv2d.forward` or `linear.backward_weight`. */
  name: string;
  /** The variant, as the chooser named it (see `lib/nn/choose.ts`). */
  variant: string;
  /** Why the chooser picked it. */
  why: string;
  /** For ops with candidates: the tuning key and every candidate's variant name. */
  tuning?: { readonly key: string; readonly alternatives: readonly string[] };
  /** Slots read: `x`, `y`, `dy`, `params`, or `work.<name>`. */
  reads: readonly string[];
  /** Slots written: `y`, `dx`, `grads`, or `work.<name>`. */
  writes: readonly string[];
  /** Floating-point operations (a multiply-add is 2). */
  flops: number;
  /** Bytes read and written (each tensor counted once). */
  bytes: number;
  /** The kernel calls, in order. */
  calls: KernelCall[];
}

/**
 * A layer in PyTorch's terms, as JSON: its module name and its constructor's arguments with
 * PyTorch's names, e.g. `{ type: "Conv2d", in_channels: 1, out_channels: 6, kernel_size: 5,
 * stride: 1, padding: 2 }`. `buildNetwork` (lib/nn/network.ts) makes the layer again.
 */
export interface LayerDescription {
  /** PyTorch's module name, e.g. `Conv2d`. */
  readonly type: string;
  /** Its arguments. */
  readonly [argument: string]: unknown;
}

/** A layer: forward and backward as ops over buffers it is given. */
export interface Layer {
  /** Its parameters (none for activations and pooling). */
  readonly parameters: readonly Parameter[];
  /**
   * PyTorch's buffers: state saved with the parameters but not trained (BatchNorm's running
   * statistics). A model keeps them in a buffer of their own, which no optimiser touches.
   */
  readonly buffers?: readonly Parameter[];
  /** Output shape for an input shape; throws when the input does not fit. */
  outputShape(input: Shape): Shape;
  /**
   * Scratch buffers (name → bytes, or constants) for a batch size, kept from forward to backward;
   * `training` says whether backward will run; `tuning` is the one the ops will be built with, so
   * that it asks for what the candidates it will run need, and nothing else.
   */
  workspace(batch: number, input: Shape, training: boolean, tuning: Tuning): Workspace;
  /** Ops of the forward pass. */
  forward(io: ForwardIO): Op[];
  /** Ops of the backward pass: parameter gradients, and dx when asked. */
  backward(io: BackwardIO): Op[];
  /** True when the output is the input reinterpreted (Flatten): no kernel, same buffer. */
  readonly reshapeOnly?: boolean;
  /** Multiply-adds of the forward pass for one sample of `input` (0 when none is counted). */
  multAdds?(input: Shape): number;
  /** PyTorch-style description, e.g. `Conv2d(1, 6, kernel_size=(5, 5), padding=(2, 2))`. */
  toString(): string;
  /** The layer as data (see {@linkcode LayerDescription}); a layer without it cannot be saved with its network. */
  describe?(): LayerDescription;
}

/**
 * Base of layers with parameters: holds the device segment once a model binds it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Linear } from "./linear.ts";
 * const fc = new Linear(4, 2);
 * assert.throws(() => fc.segment, /not on a device yet/); // a Model binds it
 * ```
 */
export abstract class ParametricLayer {
  #segment?: ParameterSegment;

  /** Binds the layer's parameter and gradient segment (done by the model). */
  bind(segment: ParameterSegment): void {
    this.#segment = segment;
  }

  /** The bound segment; throws when the layer is not part of a model yet. */
  get segment(): ParameterSegment {
    if (!this.#segment) throw new Error(`${this} is not on a device yet: create a Model with it`);
    return this.#segment;
  }
}

/**
 * PyTorch's default initialisation of Conv2d and Linear: weights by kaiming-uniform with a = √5
 * and biases U(±1/√fan_in), which both come to U(±1/√fan_in).
 */
export function defaultInit(count: number, fanIn: number, rng: Random): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  return Float32Array.from({ length: count }, () => rng.uniform(-bound, bound));
}

/** A number or pair as a pair. */
export function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

/** Throws a shape error naming the layer. */
export function expectShape(layer: Layer, input: Shape, ok: boolean, expected: string): void {
  if (!ok) {
    throw new RangeError(
      `${layer}: input shape [${input.join(", ")}] does not fit, expected ${expected}`,
    );
  }
}

/** The stored gradient of a layer's output; throws when the plan folded it away. */
export function storedDy(layer: Layer, io: BackwardIO): BufferSlice {
  if (!io.dy) throw new Error(`${layer}: the gradient of its output is not stored`);
  return io.dy;
}

/** A fresh default generator for layers built without one. */
export function defaultRandom(): Random {
  return new Random(DEFAULTS.seed);
}
