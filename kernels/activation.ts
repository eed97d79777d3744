/**
 * Element-wise activations, forward and backward. Both backward kernels read the forward's
 * output y (not its input): sigmoid' = y(1 - y), relu' = [y > 0].
 *
 * Shapes: x, y, dy, dx all [n].
 *
 * @module
 */
import { ceilDiv, type KernelSpec, u32 } from "./spec.ts";

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

/** WGSL for f(v), to apply an activation in another kernel's epilogue. */
export function activate(kind: ActivationKind, v: string): string {
  return kind === "sigmoid" ? `(1.0 / (1.0 + exp(-(${v}))))` : `max(${v}, 0.0)`;
}

/** WGSL for f'(x) written with y = f(x), to gate a gradient in another kernel's epilogue. */
export function derivativeFromOutput(kind: ActivationKind, y: string): string {
  return kind === "sigmoid" ? `(${y} * (1.0 - ${y}))` : `select(0.0, 1.0, ${y} > 0.0)`;
}
