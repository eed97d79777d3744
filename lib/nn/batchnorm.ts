/**
 * `BatchNorm2d` and `BatchNorm1d`, PyTorch's semantics: in training, each channel is normalised
 * with the batch's mean and biased variance, and the running statistics move towards them
 * (momentum 0.1, the unbiased variance); in evaluation, the running statistics normalise.
 * Parameters `weight` (γ, ones) and `bias` (β, zeros); buffers `running_mean` (zeros),
 * `running_var` (ones) and `num_batches_tracked`, as in PyTorch's `state_dict`.
 *
 *   x [B, C, H, W] (2d) or [B, C] (1d) → y, the same shape
 *   forward  (training)  batchStats → stats, state; batchNormalize(batch)
 *            (evaluation) batchNormalize(running)
 *   backward batchNormBackwardReduce → dγ, dβ; batchNormBackwardInput → dx
 *
 * @module
 */
import {
  batchNormalize,
  batchNormBackwardInput,
  batchNormBackwardReduce,
  type BatchNormShape,
  type BatchNormStatistics,
  batchStats,
  foldBatchNorm,
} from "../../kernels/batchnorm.ts";
import type { BufferSlice } from "../gpu/kernel_runner.ts";
import { sizeOf } from "../tensor.ts";
import {
  type BackwardIO,
  expectShape,
  type ForwardIO,
  type Layer,
  type LayerDescription,
  type Op,
  type Parameter,
  ParametricLayer,
  type Shape,
  storedDy,
  type Workspace,
} from "./layer.ts";

/** Options of the batch-normalisation layers (PyTorch's defaults). */
export interface BatchNormOptions {
  /** Added to the variance; default 1e-5. */
  eps?: number;
  /** How far the running statistics move each training step; default 0.1. */
  momentum?: number;
}

/**
 * Base of `BatchNorm1d` and `BatchNorm2d`: `numFeatures` channels, each normalised over the
 * batch (and the plane).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BatchNorm2d } from "./batchnorm.ts";
 * const bn = new BatchNorm2d(6);
 * assert.deepEqual(bn.parameters.map((p) => [p.name, p.data[0]]), [["weight", 1], ["bias", 0]]);
 * assert.deepEqual(bn.buffers.map((b) => b.name), ["running_mean", "running_var", "num_batches_tracked"]);
 * ```
 */
export abstract class BatchNorm extends ParametricLayer implements Layer {
  /** Channels C. */
  readonly numFeatures: number;
  /** ε. */
  readonly eps: number;
  /** Momentum of the running statistics. */
  readonly momentum: number;
  /** γ (ones) and β (zeros). */
  readonly parameters: readonly Parameter[];
  /** Running mean (zeros), running variance (ones), batches tracked (0). */
  readonly buffers: readonly Parameter[];
  /** PyTorch's module name. */
  abstract readonly type: "BatchNorm1d" | "BatchNorm2d";

  /** PyTorch's `BatchNorm(num_features, eps, momentum)`. */
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super();
    const eps = options.eps ?? 1e-5, momentum = options.momentum ?? 0.1;
    if (!(Number.isInteger(numFeatures) && numFeatures >= 1)) {
      throw new RangeError(
        `BatchNorm: num_features must be a positive integer, got ${numFeatures}`,
      );
    }
    if (!(eps > 0 && Number.isFinite(eps))) {
      throw new RangeError(`BatchNorm: eps must be a positive number, got ${eps}`);
    }
    if (!(momentum >= 0 && momentum <= 1)) {
      throw new RangeError(`BatchNorm: momentum must be in [0, 1], got ${momentum}`);
    }
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    const c = numFeatures;
    this.parameters = [
      { name: "weight", shape: [c], data: new Float32Array(c).fill(1) },
      { name: "bias", shape: [c], data: new Float32Array(c) },
    ];
    this.buffers = [
      { name: "running_mean", shape: [c], data: new Float32Array(c) },
      { name: "running_var", shape: [c], data: new Float32Array(c).fill(1) },
      { name: "num_batches_tracked", shape: [], data: new Float32Array(1) },
    ];
  }

  /** The input shape, checked: [C, H, W] (2d) or [C] (1d). */
  abstract outputShape(input: Shape): Shape;

  #shape(batch: number, input: Shape): BatchNormShape {
    return { batch, channels: this.numFeatures, spatial: sizeOf(input) / input[0], eps: this.eps };
  }

  /** The batch's mean and 1/√(var + ε), when training. */
  workspace(_batch: number, _input: Shape, training: boolean): Workspace {
    return training ? { stats: 8 * this.numFeatures } : {};
  }

  /** Training: the batch's statistics, then y; evaluation: y from the running statistics. */
  forward(io: ForwardIO): Op[] {
    const s = this.#shape(io.batch, io.input);
    const n = io.batch * sizeOf(io.input);
    const { params, state } = this.segment;
    const ops: Op[] = [];
    if (io.training && s.batch * s.spatial < 2) {
      throw new RangeError(
        `${this}: expected more than 1 value per channel when training, got a batch of ${io.batch} [${io.input}] (PyTorch's error too)`,
      );
    }
    if (io.training) {
      ops.push({
        name: "batchnorm.statistics",
        variant: "workgroup per channel",
        why: "two passes over each channel's values, summed in workgroup memory",
        reads: ["x", "state"],
        writes: ["work.stats", "state"],
        flops: 4 * n,
        bytes: 8 * n,
        calls: [{ kernel: batchStats(s, this.momentum), buffers: [io.x, io.work.stats, state!] }],
      });
    }
    const statistics: BatchNormStatistics = io.training ? "batch" : "running";
    ops.push({
      name: "batchnorm.forward",
      variant: `${statistics} statistics`,
      why: io.training ? "training normalises with the batch's" : "evaluation uses the running",
      reads: ["x", "params", io.training ? "work.stats" : "state"],
      writes: ["y"],
      flops: 4 * n,
      bytes: 8 * n,
      calls: [{
        kernel: batchNormalize(s, statistics),
        buffers: [io.x, params, io.training ? io.work.stats : state!, io.y],
      }],
    });
    return ops;
  }

  /** dγ and dβ, then dx (with the statistics the forward used). */
  backward(io: BackwardIO): Op[] {
    const dy = storedDy(this, io);
    const s = this.#shape(io.batch, io.input);
    const n = io.batch * sizeOf(io.input);
    const { params, grads, state } = this.segment;
    const statistics: BatchNormStatistics = io.training ? "batch" : "running";
    const stats = io.training ? io.work.stats : state!;
    const ops: Op[] = [{
      name: "batchnorm.backward_parameters",
      variant: `${statistics} statistics`,
      why: "Σ dy·x̂ and Σ dy per channel, summed in workgroup memory",
      reads: ["x", "dy", io.training ? "work.stats" : "state"],
      writes: ["grads"],
      flops: 4 * n,
      bytes: 8 * n,
      calls: [{
        kernel: batchNormBackwardReduce(s, statistics),
        buffers: [io.x, dy, stats, grads],
      }],
    }];
    if (io.dx) {
      ops.push({
        name: "batchnorm.backward_input",
        variant: `${statistics} statistics`,
        why: "per element, with the channel sums just made",
        reads: ["x", "dy", "params", io.training ? "work.stats" : "state", "grads"],
        writes: ["dx"],
        flops: 6 * n,
        bytes: 12 * n,
        calls: [{
          kernel: batchNormBackwardInput(s, statistics),
          buffers: [io.x, dy, params, stats, grads, io.dx],
        }],
      });
    }
    return ops;
  }

  /**
   * The op that folds this BatchNorm (inference: the running statistics) into the weights of the
   * convolution before it, whose parameters are `conv`, writing them to `folded`.
   */
  foldOp(conv: { params: BufferSlice; perChannel: number }, folded: BufferSlice): Op {
    const n = this.numFeatures * (conv.perChannel + 1);
    return {
      name: "batchnorm.fold",
      variant: "into the convolution",
      why: "inference: w·γ/√(var + ε) and (b - mean)·γ/√(var + ε) + β, then one kernel fewer",
      reads: ["params", "norm.params", "norm.state"],
      writes: ["work.folded"],
      flops: 3 * n,
      bytes: 8 * n,
      calls: [{
        kernel: foldBatchNorm({
          channels: this.numFeatures,
          perChannel: conv.perChannel,
          eps: this.eps,
        }),
        buffers: [conv.params, this.segment.params, this.segment.state!, folded],
      }],
    };
  }

  /** Multiply-adds of the forward pass (normalise and scale: one per value). */
  multAdds(input: Shape): number {
    return sizeOf(input);
  }

  /** The layer as data, in PyTorch's terms. */
  describe(): LayerDescription {
    return {
      type: this.type,
      num_features: this.numFeatures,
      eps: this.eps,
      momentum: this.momentum,
    };
  }

  /** PyTorch's repr. */
  override toString(): string {
    return `${this.type}(${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${
      pyFloat(this.momentum)
    }, affine=True, track_running_stats=True)`;
  }
}

/**
 * A number as Python's `repr` prints a float: `1.0`, `0.1`, and exponent form with two digits
 * below 1e-4 (`1e-05`), as PyTorch's module reprs show eps.
 */
function pyFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  if (v !== 0 && Math.abs(v) < 1e-4) {
    return v.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
  }
  return String(v);
}

/**
 * Batch normalisation of [C, H, W] maps, per channel over the batch and the plane.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BatchNorm2d } from "./batchnorm.ts";
 * assert.equal(String(new BatchNorm2d(6)), "BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
 * assert.throws(() => new BatchNorm2d(6).outputShape([16, 5, 5]), /\[6, H, W\]/);
 * ```
 */
export class BatchNorm2d extends BatchNorm {
  /** PyTorch's module name. */
  readonly type = "BatchNorm2d" as const;
  /** [C, H, W] → the same. */
  outputShape(input: Shape): Shape {
    expectShape(
      this,
      input,
      input.length === 3 && input[0] === this.numFeatures,
      `[${this.numFeatures}, H, W]`,
    );
    return input;
  }
}

/**
 * Batch normalisation of [C] features, per feature over the batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BatchNorm1d } from "./batchnorm.ts";
 * assert.deepEqual(new BatchNorm1d(120).outputShape([120]), [120]);
 * ```
 */
export class BatchNorm1d extends BatchNorm {
  /** PyTorch's module name. */
  readonly type = "BatchNorm1d" as const;
  /** [C] → the same. */
  outputShape(input: Shape): Shape {
    expectShape(
      this,
      input,
      input.length === 1 && input[0] === this.numFeatures,
      `[${this.numFeatures}]`,
    );
    return input;
  }
}
