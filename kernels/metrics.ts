/**
 * Metrics kept on the device: running sums of loss and correct predictions, and arg-max
 * predictions. The CPU reads them only at log points and epoch ends.
 *
 * Shapes:
 *   rowLoss [B], rowCorrect [B] (from loss.ts)
 *   totals [4 + ring]: METRIC_TOTALS, in that order (accumulated; read by lib/train/totals.ts),
 *                     then the last `ring` batch-mean losses, batch `s` at slot `s % ring`
 *   step (uniform vec4u): .x the batch's first index (the gather's window), .y its ring slot
 *   logits [B, K] → predictions [B] (u32, first arg-max)
 *
 * @module
 */
import { ceilDiv, f32, type KernelSpec, u32 } from "./spec.ts";

/** The floats of `totals`, in order: Σ batch-mean loss, Σ per-image loss, Σ correct, Σ images. */
export const METRIC_TOTALS: readonly ["batchLossSum", "lossSum", "correct", "images"] = [
  "batchLossSum",
  "lossSum",
  "correct",
  "images",
];

/**
 * Adds one batch's losses and correct count into `totals`, and (with a ring) records the batch's
 * mean loss at its slot, so that a reader can tell which step's loss went bad.
 * Bindings: rowLoss, rowCorrect, totals, step (uniform).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { accumulateMetrics } from "./metrics.ts";
 * const k = accumulateMetrics(256, 10);
 * assert.equal(k.bindings.at(-1)!.access, "uniform");
 * ```
 */
export function accumulateMetrics(batch: number, ring = 0): KernelSpec {
  const record = ring > 0
    ? `\n  totals[${METRIC_TOTALS.length}u + min(step.y, ${u32(ring - 1)})] = loss * ${
      f32(1 / batch)
    };`
    : "";
  return {
    name: "accumulate_metrics",
    bindings: [
      { name: "rowLoss", type: "array<f32>", access: "read" },
      { name: "rowCorrect", type: "array<f32>", access: "read" },
      { name: "totals", type: "array<f32>", access: "read_write" },
      { name: "step", type: "vec4u", access: "uniform" },
    ],
    workgroupSize: 1,
    workgroupCount: 1,
    body: `
  var loss = 0.0;
  var correct = 0.0;
  for (var b = 0u; b < ${u32(batch)}; b++) {
    loss += rowLoss[b];
    correct += rowCorrect[b];
  }
  totals[${METRIC_TOTALS.indexOf("batchLossSum")}] += loss * ${f32(1 / batch)};
  totals[${METRIC_TOTALS.indexOf("lossSum")}] += loss;
  totals[${METRIC_TOTALS.indexOf("correct")}] += correct;
  totals[${METRIC_TOTALS.indexOf("images")}] += ${f32(batch)};${record}`,
  };
}

/**
 * Index of the first maximum of each row. Bindings: logits, predictions (u32).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { argmaxRows } from "./metrics.ts";
 * const k = argmaxRows(256, 10);
 * assert.deepEqual(k.bindings.map((b) => b.name), ["logits", "predictions"]);
 * ```
 */
export function argmaxRows(batch: number, classes: number): KernelSpec {
  return {
    name: `argmax_rows ${classes}`,
    bindings: [
      { name: "logits", type: "array<f32>", access: "read" },
      { name: "predictions", type: "array<u32>", access: "read_write" },
    ],
    workgroupSize: 64,
    workgroupCount: ceilDiv(batch, 64),
    body: `
  if (i >= ${u32(batch)}) { return; }
  let base = i * ${u32(classes)};
  var top = logits[base];
  var arg = 0u;
  for (var k = 1u; k < ${u32(classes)}; k++) {
    let v = logits[base + k];
    if (v > top) { top = v; arg = k; }
  }
  predictions[i] = arg;`,
  };
}
