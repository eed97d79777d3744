/**
 * Every default of the project, in one place: the reference program's recipe (LeNet-5 with
 * sigmoid and average pooling, 28×28 inputs, Adam 1e-3, batches of 256, a loss line every 100
 * steps) and this project's own choices. The library, the CLI's flags and their help text all read
 * from here.
 *
 * @module
 */
import type { ActivationKind } from "../kernels/activation.ts";
import type { PoolKind } from "../kernels/pool.ts";

/** The defaults; see {@linkcode DEFAULTS}. */
export interface Defaults {
  /** Side of the square input images: Fashion-MNIST's 28. */
  readonly inputSize: number;
  /** Output classes. */
  readonly numClasses: number;
  /**
   * Most bytes of a network's parameters: the flat buffer is bound whole (by the optimiser), and
   * every WebGPU adapter binds at least 128 MiB per buffer (the specification's default limit).
   */
  readonly maxParameterBytes: number;
  /** Activation of LeNet-5: the reference's sigmoid. */
  readonly activation: ActivationKind;
  /** Pooling of LeNet-5: the reference's average pooling. */
  readonly pool: PoolKind;
  /** Seed of the initial weights and the shuffling. */
  readonly seed: number;
  /** Epochs of `train` and `deno task train` (the reference runs 120). */
  readonly epochs: number;
  /** Training batch size. */
  readonly batchSize: number;
  /**
   * Least evaluation batch size: evaluation results do not depend on it, and larger batches mean
   * fewer submits. Evaluation uses the larger of this and the training batch, when it fits.
   */
  readonly evalBatchSize: number;
  /** Log the mean training loss every this many steps. */
  readonly logEvery: number;
  /**
   * Check the device every this many steps, one check point behind, so that progress and timing
   * stay real while the queue stays full (a wait for the latest step would let it run dry, and
   * costs ~12 ms in Deno).
   */
  readonly syncEvery: number;
  /** The optimiser of `deno task train`. */
  readonly optimizer: "adam" | "adamw" | "sgd";
  /**
   * Kernel variant tuning of the commands and the page: `cached` uses the picks a `full` run
   * stored for this adapter (the built-in rules without them), and times nothing itself.
   */
  readonly tune: "off" | "cached" | "full";
  /** Adam: PyTorch's defaults. */
  readonly adam: {
    readonly lr: number;
    readonly betas: readonly [number, number];
    readonly eps: number;
    readonly weightDecay: number;
  };
  /** AdamW: PyTorch's defaults (Adam's, and a weight decay of 0.01). */
  readonly adamw: {
    readonly lr: number;
    readonly weightDecay: number;
  };
  /** SGD: PyTorch's defaults, and lr 0.1 (PyTorch requires one). */
  readonly sgd: {
    readonly lr: number;
    readonly momentum: number;
    readonly weightDecay: number;
    readonly nesterov: boolean;
  };
}

/**
 * The defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULTS } from "./defaults.ts";
 * assert.equal(DEFAULTS.batchSize, 256);
 * assert.equal(DEFAULTS.adam.lr, 1e-3);
 * ```
 */
export const DEFAULTS: Defaults = {
  inputSize: 28,
  numClasses: 10,
  maxParameterBytes: 128 * 2 ** 20,
  activation: "sigmoid",
  pool: "avg",
  seed: 0,
  epochs: 10,
  batchSize: 256,
  evalBatchSize: 256,
  logEvery: 100,
  syncEvery: 10,
  optimizer: "adam",
  tune: "cached",
  adam: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
  adamw: { lr: 1e-3, weightDecay: 0.01 },
  sgd: { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
};
