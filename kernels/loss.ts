/**
 * Softmax cross-entropy with mean reduction (PyTorch's `CrossEntropyLoss()`), fused forward and
 * backward, numerically stable (log-sum-exp around the row maximum).
 *
 * Shapes:
 *   logits [B, K], labels [B] (u32)
 *   rowLoss [B]     = log Σ exp(z - max) - (z[label] - max)   (as log_softmax, no cancellation)
 *   rowCorrect [B]  = 1 when the first arg-max equals the label (as `argmax(dim=1)`), else 0
 *   dlogits [B, K]  = (softmax(z) - onehot(label)) / B        (only when `gradient`)
 *
 * @module
 */
import { ceilDiv, f32, type KernelSpec, u32 } from "./spec.ts";

const WG = 64;

/**
 * Per-row loss and correctness, and optionally the logit gradient of the batch mean.
 * Bindings: logits, labels, rowLoss, rowCorrect[, dlogits].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { softmaxCrossEntropy } from "./loss.ts";
 * const k = softmaxCrossEntropy({ batch: 256, classes: 10, gradient: true });
 * assert.equal(k.bindings.at(-1)!.name, "dlogits");
 * ```
 */
export function softmaxCrossEntropy(
  s: { batch: number; classes: number; gradient: boolean; labelSmoothing?: number },
): KernelSpec {
  const { batch: B, classes: K } = s;
  const eps = s.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) {
    throw new RangeError(`label smoothing must be from 0 to 1, got ${eps}`);
  }
  // With smoothing ε the target is (1 - ε)·onehot + ε/K (PyTorch's label_smoothing): the loss
  // adds ε times the mean of -log p over the classes, the gradient subtracts ε/K everywhere.
  const smoothLoss = eps
    ? `
  var logSum = 0.0;
  for (var k = 0u; k < ${u32(K)}; k++) { logSum += logits[base + k] - top; }
  rowLoss[i] = ${f32(1 - eps)} * (log(total) - (logits[base + label] - top)) +
    ${f32(eps / K)} * (${f32(K)} * log(total) - logSum);`
    : `
  rowLoss[i] = log(total) - (logits[base + label] - top);`;
  const target = eps
    ? `p - select(${f32(eps / K / B)}, ${f32((1 - eps + eps / K) / B)}, k == label)`
    : `select(p, p - ${f32(1 / B)}, k == label)`;
  return {
    name: `softmax_cross_entropy ${K} classes${s.gradient ? " + gradient" : ""}${
      eps ? ` smoothing ${eps}` : ""
    }`,
    bindings: [
      { name: "logits", type: "array<f32>", access: "read" },
      { name: "labels", type: "array<u32>", access: "read" },
      { name: "rowLoss", type: "array<f32>", access: "read_write" },
      { name: "rowCorrect", type: "array<f32>", access: "read_write" },
      ...(s.gradient
        ? [{ name: "dlogits", type: "array<f32>", access: "read_write" as const }]
        : []),
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(B, WG),
    body: `
  if (i >= ${u32(B)}) { return; }
  let base = i * ${u32(K)};
  var top = logits[base];
  var arg = 0u;
  for (var k = 1u; k < ${u32(K)}; k++) {
    let v = logits[base + k];
    if (v > top) { top = v; arg = k; }
  }
  var total = 0.0;
  for (var k = 0u; k < ${u32(K)}; k++) { total += exp(logits[base + k] - top); }
  let label = labels[i];${smoothLoss}
  rowCorrect[i] = select(0.0, 1.0, arg == label);${
      s.gradient
        ? `
  let scale = ${f32(1 / B)} / total;
  for (var k = 0u; k < ${u32(K)}; k++) {
    let p = exp(logits[base + k] - top) * scale;
    dlogits[base + k] = ${target};
  }`
        : ""
    }`,
  };
}
