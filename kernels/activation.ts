/**
 * Element-wise activations, forward and backward, as one table: every kind's WGSL, derivative,
 * PyTorch name and ONNX operators live in {@linkcode ACTIVATIONS}, and every consumer (layers,
 * fusion, ONNX export, flags, checkpoints, the page) reads it. A kind missing from the table is a
 * type error (`satisfies Record<ActivationKind, ...>`).
 *
 * A derivative is written either with the forward's output y (sigmoid' = y(1 - y), relu' =
 * [y > 0], tanh' = 1 - y²) or with its input x (GELU, SiLU, LeakyReLU): only the first kind can
 * be fused ({@linkcode FUSIBLE_ACTIVATIONS}), since a fused forward keeps y and not x.
 *
 * Shapes: x, y, dy, dx all [n].
 *
 * @module
 */
import { anyOf, ceilDiv, f32, type KernelSpec, u32 } from "./spec.ts";

/** The activations there are kernels for: the one home of their names (flags, files, options). */
export const ACTIVATION_KINDS = [
  "sigmoid",
  "relu",
  "tanh",
  "gelu",
  "silu",
  "leaky_relu",
] as const;
/** Activation kind. */
export type ActivationKind = (typeof ACTIVATION_KINDS)[number];

/** An activation's arguments (PyTorch's): only LeakyReLU has one. */
export interface ActivationArgs {
  /** LeakyReLU's `negative_slope`; default 0.01. */
  negativeSlope?: number;
}

/** One ONNX node of an activation: inputs are `x`, the node before's output, or a constant. */
export interface ActivationOnnxNode {
  /** The operator, e.g. `Sigmoid`. */
  op: string;
  /** `"x"`, `"prev"` (the previous node's output) or a float constant. */
  inputs: readonly ("x" | "prev" | number)[];
  /** Float attributes, e.g. LeakyRelu's `alpha`. */
  floats?: Readonly<Record<string, number>>;
}

/** What every consumer needs to know of one activation kind. */
export interface ActivationEntry {
  /** PyTorch's module name, e.g. `LeakyReLU`. */
  torch: string;
  /** PyTorch's `repr`. */
  repr(args: ActivationArgs): string;
  /** WGSL for f(v). */
  forward(v: string, args: ActivationArgs): string;
  /** Which value the derivative is written with: the forward's output or its input. */
  derivativeFrom: "output" | "input";
  /** WGSL for f' written with that value. */
  derivative(v: string, args: ActivationArgs): string;
  /** Module-scope WGSL the two expressions call. */
  helpers?: string;
  /** ONNX (opset 13) nodes computing it, in order; the last one's output is y. */
  onnx(args: ActivationArgs): readonly ActivationOnnxNode[];
}

/** LeakyReLU's default slope, as PyTorch's. */
export const DEFAULT_NEGATIVE_SLOPE = 0.01;
const slope = (args: ActivationArgs) => args.negativeSlope ?? DEFAULT_NEGATIVE_SLOPE;

/**
 * erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7; WGSL has no erf), and the two input-side
 * derivatives. Φ(x) = (1 + erf(x/√2)) / 2, φ(x) = e^(-x²/2) / √(2π).
 */
const ERF = `
fn erf_as(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - p * exp(-a * a));
}
fn gelu_grad(x: f32) -> f32 {
  return 0.5 * (1.0 + erf_as(x * 0.70710678118654752)) + x * exp(-0.5 * x * x) * 0.39894228040143268;
}`;
const SILU_GRAD = `
fn silu_grad(x: f32) -> f32 {
  let s = 1.0 / (1.0 + exp(-x));
  return s * (1.0 + x * (1.0 - s));
}`;

/**
 * Every activation kind, one line of data each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ACTIVATIONS } from "./activation.ts";
 * assert.equal(ACTIVATIONS.gelu.derivativeFrom, "input");
 * assert.equal(ACTIVATIONS.leaky_relu.repr({ negativeSlope: 0.2 }), "LeakyReLU(negative_slope=0.2)");
 * ```
 */
export const ACTIVATIONS: Readonly<Record<ActivationKind, ActivationEntry>> = {
  sigmoid: {
    torch: "Sigmoid",
    repr: () => "Sigmoid()",
    forward: (v) => `(1.0 / (1.0 + exp(-(${v}))))`,
    derivativeFrom: "output",
    derivative: (y) => `(${y} * (1.0 - ${y}))`,
    onnx: () => [{ op: "Sigmoid", inputs: ["x"] }],
  },
  // max(NaN, 0) may be 0 in WGSL: ReLU keeps NaN as PyTorch's does, and its derivative passes
  // the gradient where y is NaN, as PyTorch's threshold_backward does (`y <= 0` is false).
  relu: {
    torch: "ReLU",
    repr: () => "ReLU()",
    forward: (v) => `select(0.0, ${v}, ${anyOf(`${v} > 0.0`, isNan(v))})`,
    derivativeFrom: "output",
    derivative: (y) => `select(0.0, 1.0, ${anyOf(`${y} > 0.0`, isNan(y))})`,
    onnx: () => [{ op: "Relu", inputs: ["x"] }],
  },
  // WGSL's tanh may be computed as sinh/cosh, which overflows past |x| ≈ 44: clamped at ±10,
  // where tanh is already ±1 in f32, with NaN kept.
  tanh: {
    torch: "Tanh",
    repr: () => "Tanh()",
    forward: (v) => `select(tanh(clamp(${v}, -10.0, 10.0)), ${v}, ${isNan(v)})`,
    derivativeFrom: "output",
    derivative: (y) => `(1.0 - ${y} * ${y})`,
    onnx: () => [{ op: "Tanh", inputs: ["x"] }],
  },
  // PyTorch's default GELU, x·Φ(x) with the exact erf (not the tanh approximation).
  gelu: {
    torch: "GELU",
    repr: () => "GELU(approximate='none')",
    forward: (v) => `(0.5 * ${v} * (1.0 + erf_as(${v} * 0.70710678118654752)))`,
    derivativeFrom: "input",
    derivative: (x) => `gelu_grad(${x})`,
    helpers: ERF,
    onnx: () => [
      { op: "Div", inputs: ["x", Math.SQRT2] },
      { op: "Erf", inputs: ["prev"] },
      { op: "Add", inputs: ["prev", 1] },
      { op: "Mul", inputs: ["x", "prev"] },
      { op: "Mul", inputs: ["prev", 0.5] },
    ],
  },
  silu: {
    torch: "SiLU",
    repr: () => "SiLU()",
    forward: (v) => `(${v} / (1.0 + exp(-(${v}))))`,
    derivativeFrom: "input",
    derivative: (x) => `silu_grad(${x})`,
    helpers: SILU_GRAD,
    onnx: () => [{ op: "Sigmoid", inputs: ["x"] }, { op: "Mul", inputs: ["x", "prev"] }],
  },
  // Its slope is an argument: it runs as its own kernel (see FUSIBLE_ACTIVATIONS).
  leaky_relu: {
    torch: "LeakyReLU",
    repr: (args) => `LeakyReLU(negative_slope=${slope(args)})`,
    forward: (v, args) => `select(${v} * ${f32(slope(args))}, ${v}, ${v} > 0.0)`,
    derivativeFrom: "input",
    derivative: (x, args) => `select(${f32(slope(args))}, 1.0, ${x} > 0.0)`,
    onnx: (args) => [{ op: "LeakyRelu", inputs: ["x"], floats: { alpha: slope(args) } }],
  },
};

/**
 * The activation kind named by PyTorch's module name (`ReLU` → `relu`), or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationKindOf } from "./activation.ts";
 * assert.equal(activationKindOf("LeakyReLU"), "leaky_relu");
 * assert.equal(activationKindOf("Softmax"), undefined);
 * ```
 */
export function activationKindOf(torchName: string): ActivationKind | undefined {
  return ACTIVATION_KINDS.find((kind) => ACTIVATIONS[kind].torch === torchName);
}

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
export function activationForward(
  kind: ActivationKind,
  n: number,
  args: ActivationArgs = {},
): KernelSpec {
  const entry: ActivationEntry = ACTIVATIONS[kind];
  return {
    name: `${kind}_forward ${n}${kind === "leaky_relu" ? ` slope ${slope(args)}` : ""}`,
    bindings: [
      { name: "x", type: "array<f32>", access: "read" },
      { name: "y", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    helpers: entry.helpers,
    body: `
  if (i >= ${u32(n)}) { return; }
  let v = x[i];
  y[i] = ${entry.forward("v", args)};`,
  };
}

/**
 * Backward: dx = dy · f'(x), written with the forward's output y or its input x as the kind
 * says (`derivativeFrom`). Bindings: that value (named `y` or `x`), dy, dx.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationBackward } from "./activation.ts";
 * assert.deepEqual(activationBackward("relu", 256 * 120).bindings.map((b) => b.name), ["y", "dy", "dx"]);
 * assert.deepEqual(activationBackward("gelu", 256 * 120).bindings.map((b) => b.name), ["x", "dy", "dx"]);
 * ```
 */
export function activationBackward(
  kind: ActivationKind,
  n: number,
  args: ActivationArgs = {},
): KernelSpec {
  const entry: ActivationEntry = ACTIVATIONS[kind];
  const from = entry.derivativeFrom === "output" ? "y" : "x";
  return {
    name: `${kind}_backward ${n}${kind === "leaky_relu" ? ` slope ${slope(args)}` : ""}`,
    bindings: [
      { name: from, type: "array<f32>", access: "read" },
      { name: "dy", type: "array<f32>", access: "read" },
      { name: "dx", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    helpers: entry.helpers,
    body: `
  if (i >= ${u32(n)}) { return; }
  let v = ${from}[i];
  let g = dy[i];
  dx[i] = g * ${entry.derivative("v", args)};`,
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
 * The kinds a convolution or linear layer may apply in its epilogue, and whose derivative its
 * neighbours may fold into their gradients: those taken from the output, with no arguments (the
 * fused kernels carry the kind's name alone). A test holds this list to the table.
 */
export const FUSIBLE_ACTIVATIONS = [
  "sigmoid",
  "relu",
  "tanh",
] as const satisfies readonly ActivationKind[];
/** A kind another kernel may fuse. */
export type FusibleActivation = (typeof FUSIBLE_ACTIVATIONS)[number];

/**
 * Whether `kind` may be fused into a neighbour's kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isFusible } from "./activation.ts";
 * assert.equal(isFusible("tanh"), true);
 * assert.equal(isFusible("gelu"), false);
 * ```
 */
export function isFusible(kind: ActivationKind): kind is FusibleActivation {
  return (FUSIBLE_ACTIVATIONS as readonly ActivationKind[]).includes(kind);
}

/** WGSL for f(v), to apply a fusible activation in another kernel's epilogue. */
export function activate(kind: FusibleActivation, v: string): string {
  return ACTIVATIONS[kind].forward(v, {});
}

/**
 * WGSL for f'(x) written with y = f(x), to gate a gradient in another kernel's epilogue (a
 * fusible kind's derivative is taken from its output).
 */
export function derivativeFromOutput(kind: FusibleActivation, y: string): string {
  return ACTIVATIONS[kind].derivative(y, {});
}
