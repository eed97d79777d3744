/**
 * Element-wise activations, forward and backward. Both backward kernels read the forward's
 * output y (not its input): sigmoid' = y(1 - y), relu' = [y > 0].
 *
 * Shapes: x, y, dy, dx all [n].
 *
 * @module
 */
import { anyOf, ceilDiv, type KernelSpec, u32 } from "./spec.ts";

/** The activations there are kernels for: the one home of their names (flags, files, options). */
export const ACTIVATION_KINDS = ["sigmoid", "relu"] as const;
/** Activation kind. */
export type ActivationKind = (typeof ACTIVATION_KINDS)[number];

const WG = 256;

/**
 * Forward: y = f(x). Bindings: x, y.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationForward } from "./activation.ts";
 * const k = activationForward("sigmoid", 256 * 6 * 28 * 28);
 * assert.equal(k.workgroupCount * k.workgroupSize, 256 * 6 * 28 * 28);
 * ```
 */
export function activationForward(kind: ActivationKind, n: number): KernelSpec {
  const f = activate(kind, "v");
  return {
    name: `${kind}_forward ${n}`,
    bindings: [
      { name: "x", type: "array<f32>", access: "read" },
      { name: "y", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    body: `
  if (i >= ${u32(n)}) { return; }
  let v = x[i];
  y[i] = ${f};`,
  };
}

/**
 * Backward: dx = dy · f'(x), written with the forward's output y. Bindings: y, dy, dx.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationBackward } from "./activation.ts";
 * const k = activationBackward("relu", 256 * 120);
 * assert.deepEqual(k.bindings.map((b) => b.name), ["y", "dy", "dx"]);
 * ```
 */
export function activationBackward(kind: ActivationKind, n: number): KernelSpec {
  const f = `g * ${derivativeFromOutput(kind, "v")}`;
  return {
    name: `${kind}_backward ${n}`,
    bindings: [
      { name: "y", type: "array<f32>", access: "read" },
      { name: "dy", type: "array<f32>", access: "read" },
      { name: "dx", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    body: `
  if (i >= ${u32(n)}) { return; }
  let v = y[i];
  let g = dy[i];
  dx[i] = ${f};`,
  };
}

/**
 * WGSL that is true when `v` is NaN, from its bits: comparisons with NaN (and WGSL's `max`) need
 * not see it, and a compiler may assume `v != v` false.
 */
export function isNan(v: string): string {
  return `((bitcast<u32>(${v}) & 0x7fffffffu) > 0x7f800000u)`;
}

/**
 * WGSL for f(v), to apply an activation in another kernel's epilogue. ReLU keeps NaN as PyTorch's
 * does (`max(NaN, 0)` may be 0 in WGSL).
 */
export function activate(kind: ActivationKind, v: string): string {
  return kind === "sigmoid"
    ? `(1.0 / (1.0 + exp(-(${v}))))`
    : `select(0.0, ${v}, ${anyOf(`${v} > 0.0`, isNan(v))})`;
}

/**
 * WGSL for f'(x) written with y = f(x), to gate a gradient in another kernel's epilogue. ReLU's
 * passes the gradient where y is NaN, as PyTorch's `threshold_backward` does (`y <= 0` is false).
 */
export function derivativeFromOutput(kind: ActivationKind, y: string): string {
  return kind === "sigmoid"
    ? `(${y} * (1.0 - ${y}))`
    : `select(0.0, 1.0, ${anyOf(`${y} > 0.0`, isNan(y))})`;
}
