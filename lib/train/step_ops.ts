/**
 * The ops a pass adds around a step plan: gathering the batch from the resident split, adding its
 * loss and correct count into the running sums, and the arg-max of the logits; and how a split
 * is cut into batches.
 *
 * @module
 */
import { type Augment, gatherBatch } from "../../kernels/batch.ts";
import { accumulateMetrics, argmaxRows } from "../../kernels/metrics.ts";
import type { Shape } from "../tensor.ts";
import type { DeviceSplit } from "./device_data.ts";
import type { PlanOp, StepPlan } from "./plan.ts";
import { TOTALS } from "./totals.ts";

/**
 * The op that assembles a batch from a resident split: the images at positions `window ..
 * window + batch` of the split's order, scaled to [0, 1] and resized to the model's input.
 */
export function gatherOp(
  plan: StepPlan,
  data: DeviceSplit,
  window: GPUBuffer,
  inputShape: Shape,
  augment?: Augment,
): PlanOp {
  const [, height, width] = inputShape;
  const resize = height !== data.rows || width !== data.cols;
  return {
    name: "gather",
    layer: "data",
    variant: augment
      ? "augmented"
      : resize
      ? `bilinear ${data.rows}x${data.cols}→${height}x${width}`
      : "copy",
    why: augment
      ? "random crop, flip and erasing drawn per image on the device, as torchvision's transforms"
      : resize
      ? "resized on the device, as the reference's transforms.Resize"
      : "bytes to [0, 1] floats, as ToTensor()",
    inputs: ["dataset", "order", "window"],
    outputs: ["x", "labels"],
    flops: plan.batch * height * width * (resize ? 8 : 1),
    bytes: plan.batch * (height * width * 4 + 8) + plan.batch * data.rows * data.cols,
    calls: [{
      kernel: gatherBatch({
        batch: plan.batch,
        srcHeight: data.rows,
        srcWidth: data.cols,
        dstHeight: height,
        dstWidth: width,
      }, augment),
      buffers: [data.images, data.labels, data.order, window, plan.x, plan.labels],
    }],
  };
}

/**
 * The op that adds a batch's loss and correct count into `totals` (see `totals.ts`) and, with a
 * ring, records the batch's loss at the slot `step` holds.
 */
export function metricsOp(plan: StepPlan, totals: GPUBuffer, step: GPUBuffer, ring = 0): PlanOp {
  return {
    name: "metrics",
    layer: "loss",
    variant: "one invocation",
    why:
      `${TOTALS.length} running sums (and each step's loss) stay on the device until a sync point`,
    inputs: ["rowLoss", "rowCorrect", "window"],
    outputs: ["totals"],
    flops: 2 * plan.batch,
    bytes: 8 * plan.batch + 16,
    calls: [{
      kernel: accumulateMetrics(plan.batch, ring),
      buffers: [plan.rowLoss, plan.rowCorrect, totals, step],
    }],
  };
}

/** The op that writes each row's first arg-max of the logits to `predictions` (u32). */
export function argmaxOp(plan: StepPlan, classes: number, predictions: GPUBuffer): PlanOp {
  return {
    name: "argmax",
    layer: "predict",
    variant: "per row",
    why: "predicted classes without reading the logits back",
    inputs: ["logits"],
    outputs: ["predictions"],
    flops: plan.batch * classes,
    bytes: 4 * plan.batch * (classes + 1),
    calls: [{ kernel: argmaxRows(plan.batch, classes), buffers: [plan.logits, predictions] }],
  };
}

/**
 * The batch size, at most `most`, that covers `count` images in as few batches as `most` does,
 * as evenly as possible: an evaluation (whose results do not depend on its batches) then needs
 * one plan, one set of pipelines, wherever that divides `count` (10,000 at most 256: 40 of 250
 * instead of 39 of 256 and one of 16): one plan's pipelines fewer to compile and keep.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evenBatchSize } from "./step_ops.ts";
 * assert.equal(evenBatchSize(10_000, 256), 250);
 * assert.equal(evenBatchSize(2_000, 256), 250);
 * assert.equal(evenBatchSize(100, 256), 100);
 * assert.equal(evenBatchSize(1_999, 256), 250); // 7 of 250, then 249
 * ```
 */
export function evenBatchSize(count: number, most: number): number {
  if (count <= 0) return most;
  return Math.ceil(count / Math.ceil(count / most));
}

/** The batch sizes covering `count` images: full batches, then the remainder. */
export function batchPlan(count: number, batchSize: number): { size: number; starts: number[] }[] {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  }
  const full = Math.floor(count / batchSize), rest = count % batchSize;
  const plan = [{ size: batchSize, starts: Array.from({ length: full }, (_, i) => i * batchSize) }];
  if (rest) plan.push({ size: rest, starts: [full * batchSize] });
  return plan.filter((p) => p.starts.length);
}
