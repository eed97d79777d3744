/**
 * Metrics kept on the device: running sums of loss and correct predictions, and arg-max
 * predictions. The CPU reads them only at log points and epoch ends.
 *
 * Shapes:
 *   rowLoss [B], rowCorrect [B] (from loss.ts)
 *   totals [4]: Σ batch-mean loss, Σ per-image loss, Σ correct, Σ images   (accumulated)
 *   logits [B, K] → predictions [B] (u32, first arg-max)
 *
 * @module
 */
import { ceilDiv, f32, type KernelSpec, u32 } from "./spec.ts";

/**
 * Adds one batch's losses and correct count into `totals`. Bindings: rowLoss, rowCorrect, totals.
 *
 * @example
 * ```ts
 * import { accumulateMetrics } from "./metrics.ts";
 * const k = accumulateMetrics(256);
 * ```
 */
export function accumulateMetrics(batch: number): KernelSpec {
  return {
    key: `accumulate_metrics:b${batch}`,
    bindings: [
      { name: "rowLoss", type: "array<f32>", access: "read" },
      { name: "rowCorrect", type: "array<f32>", access: "read" },
      { name: "totals", type: "array<f32>", access: "read_write" },
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
  totals[0] += loss * ${f32(1 / batch)};
  totals[1] += loss;
  totals[2] += correct;
  totals[3] += ${f32(batch)};`,
  };
}

/**
 * Index of the first maximum of each row. Bindings: logits, predictions (u32).
 *
 * @example
 * ```ts
 * import { argmaxRows } from "./metrics.ts";
 * const k = argmaxRows(256, 10);
 * ```
 */
export function argmaxRows(batch: number, classes: number): KernelSpec {
  return {
    key: `argmax_rows:b${batch}:k${classes}`,
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
