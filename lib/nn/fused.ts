/**
 * The fusion contract: what the fusion pass (`lib/train/fusion.ts`) may hand a layer that can do
 * its neighbours' work inside its own kernels, and how the pass recognises the neighbours. The
 * base contract (`layer.ts`) knows none of this: a network runs the same with the pass off.
 *
 *   producer   a convolution or linear layer applies the activation after it in its epilogue
 *              (`FusedForwardIO.activation`) and, a convolution, the 2×2 pooling after that
 *              (`FusedForwardIO.pool`); in its backward it multiplies its dx by the derivative of
 *              the activation before it (`FusedBackwardIO.gate`) and, the first layer, computes its
 *              dy from the pooling's gradient (`FusedBackwardIO.dyPooled`).
 *   pooling    a 2×2, stride-2 pooling says so (`fusiblePooling`), and gates its dx likewise.
 *   activation an activation layer says its kind (`activation`); only `FUSIBLE_ACTIVATIONS` fuse.
 *
 * @module
 */
import type { ActivationKind, FusibleActivation } from "../../kernels/activation.ts";
import type { PoolKind } from "../../kernels/pool.ts";
import type { BufferSlice } from "../gpu/kernel_runner.ts";
import type { Tuning } from "./choose.ts";
import type { BackwardIO, ForwardIO, Layer, Op, Shape, Workspace } from "./layer.ts";

/** A 2×2, stride-2 pooling run inside the producer's forward. */
export interface FusedPool {
  /** Its kind. */
  kind: PoolKind;
  /** Its output. */
  out: BufferSlice;
  /** Max pooling's winners, for its backward. */
  argmax?: BufferSlice;
  /** Write the producer's own output (y) too: training needs it for the backward. */
  keepInput: boolean;
}

/** A forward with the neighbours the pass fused in. */
export interface FusedForwardIO extends ForwardIO {
  /** Apply this activation to y (the activation layer that follows is fused in). */
  activation?: FusibleActivation;
  /** The pooling that follows (after the activation) runs here too. */
  pool?: FusedPool;
  /**
   * Parameters to run with instead of its own, laid out as its segment: a BatchNorm after it
   * folded in (inference). `uniformParams` when its own segment has a uniform view.
   */
  weights?: { params: BufferSlice; uniformParams?: BufferSlice; slot: string };
}

/**
 * The backward of the pooling after the first layer, run inside that layer's weight gradient:
 * dy is never stored, but made from the pooling's gradient `dpool` (and, for max, its `argmax`),
 * times the derivative of the activation between them (`gate`, at y).
 */
export interface FoldedPoolBackward {
  /** The pooling's kind. */
  kind: PoolKind;
  /** The gradient of the pooling's output. */
  dpool: BufferSlice;
  /** Max pooling's winners. */
  argmax?: BufferSlice;
  /** The activation between the layer and the pooling. */
  gate?: FusibleActivation;
}

/** A backward with the neighbours the pass fused in. */
export interface FusedBackwardIO extends BackwardIO, FusedForwardIO {
  /**
   * Multiply dx by this activation's derivative at x (x is that activation's output): the
   * backward of the activation layer before this one, fused in.
   */
  gate?: FusibleActivation;
  /** The following pooling's backward folded into this layer's (dy is then null). */
  dyPooled?: FoldedPoolBackward;
}

/** The fusion a producer's workspace is asked for: its candidates may need other buffers. */
export interface FusionWork {
  /** The pooling fused into its forward. */
  pool?: PoolKind;
  /** The pooling whose backward is folded into its weight gradient. */
  pooledDy?: PoolKind;
}

/** Which fusions a layer can take. */
export interface Fuses {
  /** An activation in its forward's epilogue. */
  readonly activation?: boolean;
  /** The derivative of the activation before it, in its dx. */
  readonly gate?: boolean;
  /** A following 2×2 pooling in its forward. */
  readonly pool?: boolean;
  /** That pooling's backward, in its weight gradient. */
  readonly poolBackward?: boolean;
}

/** A layer that can do its neighbours' work: it takes the fused IO the pass hands it. */
export interface FusingLayer extends Layer {
  /** The fusions it takes. */
  readonly fuses: Fuses;
  /** Scratch buffers, for the fusion it will run under. */
  workspace(
    batch: number,
    input: Shape,
    training: boolean,
    tuning: Tuning,
    fusion?: FusionWork,
  ): Workspace;
  /** Ops of the forward pass, with what the pass fused in. */
  forward(io: FusedForwardIO): Op[];
  /** Ops of the backward pass, with what the pass fused in. */
  backward(io: FusedBackwardIO): Op[];
}

/**
 * The fusions `layer` takes (none for a layer that is not a {@linkcode FusingLayer}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fusesOf } from "./fused.ts";
 * import { Conv2d } from "./conv2d.ts";
 * import { Dropout } from "./dropout.ts";
 * assert.equal(fusesOf(new Conv2d(1, 6, 5)).pool, true);
 * assert.deepEqual(fusesOf(new Dropout(0.5)), {});
 * ```
 */
export function fusesOf(layer: Layer): Fuses {
  return (layer as Partial<FusingLayer>).fuses ?? {};
}

/**
 * `layer` as a {@linkcode FusingLayer} when it takes the fusion `need`; throws otherwise (the
 * pass only groups layers that do).
 */
export function fusing(layer: Layer, need: keyof Fuses): FusingLayer {
  if (fusesOf(layer)[need] !== true) throw new Error(`${layer} does not take a fused ${need}`);
  return layer as FusingLayer;
}

/** A pooling layer the pass may run inside the layer before it. */
export interface FusiblePoolingLayer extends Layer {
  /** Its kind when it can (2×2 windows, stride 2, no padding, an even input), else null. */
  fusiblePooling(input: Shape): PoolKind | null;
}

/**
 * The kind of `layer`'s pooling when the pass may run it inside the layer before it, else null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fusiblePoolingOf } from "./fused.ts";
 * import { MaxPool2d } from "./pool.ts";
 * assert.equal(fusiblePoolingOf(new MaxPool2d(2), [6, 28, 28]), "max");
 * assert.equal(fusiblePoolingOf(new MaxPool2d(3), [6, 28, 28]), null);
 * ```
 */
export function fusiblePoolingOf(layer: Layer, input: Shape): PoolKind | null {
  return (layer as Partial<FusiblePoolingLayer>).fusiblePooling?.(input) ?? null;
}

/** An activation layer: it says its kind. */
export interface ActivationLayer extends Layer {
  /** Which activation. */
  readonly activation: ActivationKind;
}

/**
 * The kind of an activation layer, else undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationOf } from "./fused.ts";
 * import { ReLU } from "./activation.ts";
 * import { Flatten } from "./flatten.ts";
 * assert.equal(activationOf(new ReLU()), "relu");
 * assert.equal(activationOf(new Flatten()), undefined);
 * ```
 */
export function activationOf(layer: Layer): ActivationKind | undefined {
  return (layer as Partial<ActivationLayer>).activation;
}
