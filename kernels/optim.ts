/**
 * Optimiser updates over the flat parameter buffer (all layers' weights and biases, padded to a
 * multiple of 4), with PyTorch's semantics (`torch.optim.Adam`, `torch.optim.SGD`).
 *
 * Shapes: params, grads, state buffers all [n] (n % 4 == 0), read as vec4.
 *
 * Adam, step t (the per-step scalars come in a uniform, computed on the CPU in double):
 *   g = grad + wd·p;  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
 *   p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps)
 * AdamW: the same with g = grad, after p *= 1 - lr·wd (decoupled weight decay).
 * SGD with momentum μ (dampening 0):
 *   g = grad + wd·p;  buf = μ·buf + g;  g = nesterov ? g + μ·buf : buf;  p -= lr·g
 *
 * @module
 */
import { ceilDiv, f32, type KernelSpec, u32 } from "./spec.ts";

const WG = 64;

/** Constant hyper-parameters of Adam (and AdamW, with `decoupled`). */
export interface AdamConstants {
  /** β1, default 0.9. */
  beta1: number;
  /** β2, default 0.999. */
  beta2: number;
  /** ε, default 1e-8. */
  eps: number;
  /** L2 weight decay (added to the gradient), default 0. */
  weightDecay: number;
  /**
   * AdamW's decoupled weight decay instead: the parameters are first scaled by the step's
   * `decay` (1 − lr·weight_decay, a per-step scalar) and the gradient is left as it is.
   */
  decoupled?: boolean;
}

/** WGSL struct of Adam's per-step scalars (`stepSize`, `biasCorrection2Sqrt`, AdamW's `decay`). */
export const ADAM_STEP_STRUCT =
  "struct AdamStep { stepSize: f32, biasCorrection2Sqrt: f32, decay: f32 }";

/**
 * One Adam step. Bindings: params, grads, m, v, step (uniform AdamStep).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adamUpdate } from "./optim.ts";
 * const k = adamUpdate(61760, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
 * assert.ok(k.workgroupCount * k.workgroupSize >= 61760 / 4); // one vec4 per invocation
 * ```
 */
export function adamUpdate(n: number, c: AdamConstants): KernelSpec {
  if (n % 4) throw new RangeError(`adamUpdate: n must be a multiple of 4, got ${n}`);
  const decay = c.weightDecay && !c.decoupled ? ` + ${f32(c.weightDecay)} * p` : "";
  return {
    name: `${c.decoupled ? "adamw" : "adam"} ${n}`,
    helpers: ADAM_STEP_STRUCT,
    bindings: [
      { name: "params", type: "array<vec4f>", access: "read_write" },
      { name: "grads", type: "array<vec4f>", access: "read" },
      { name: "m", type: "array<vec4f>", access: "read_write" },
      { name: "v", type: "array<vec4f>", access: "read_write" },
      { name: "step", type: "AdamStep", access: "uniform" },
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(n / 4, WG),
    body: `
  if (i >= ${u32(n / 4)}) { return; }
  let p = params[i]${c.decoupled ? " * step.decay" : ""};
  let g = grads[i]${decay};
  let m1 = ${f32(c.beta1)} * m[i] + ${f32(1 - c.beta1)} * g;
  let v1 = ${f32(c.beta2)} * v[i] + ${f32(1 - c.beta2)} * g * g;
  m[i] = m1;
  v[i] = v1;
  let denom = sqrt(v1) / step.biasCorrection2Sqrt + ${f32(c.eps)};
  params[i] = p - step.stepSize * m1 / denom;`,
  };
}

/** Constant hyper-parameters of SGD. */
export interface SgdConstants {
  /** Momentum μ, default 0 (plain SGD). */
  momentum: number;
  /** L2 weight decay, default 0. */
  weightDecay: number;
  /** Nesterov momentum, default false. */
  nesterov: boolean;
}

/**
 * One SGD step. Bindings: params, grads, momentum buffer, lr (uniform f32).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sgdUpdate } from "./optim.ts";
 * const k = sgdUpdate(61760, { momentum: 0.9, weightDecay: 5e-4, nesterov: false });
 * assert.equal(k.bindings.length, 4);
 * ```
 */
export function sgdUpdate(n: number, c: SgdConstants): KernelSpec {
  if (n % 4) throw new RangeError(`sgdUpdate: n must be a multiple of 4, got ${n}`);
  const decay = c.weightDecay ? ` + ${f32(c.weightDecay)} * p` : "";
  const momentum = c.momentum
    ? `
  let b1 = ${f32(c.momentum)} * buf[i] + g;
  buf[i] = b1;
  let d = ${c.nesterov ? `g + ${f32(c.momentum)} * b1` : "b1"};`
    : `
  let d = g;`;
  return {
    name: `sgd ${n}`,
    bindings: [
      { name: "params", type: "array<vec4f>", access: "read_write" },
      { name: "grads", type: "array<vec4f>", access: "read" },
      { name: "buf", type: "array<vec4f>", access: "read_write" },
      { name: "lr", type: "f32", access: "uniform" },
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(n / 4, WG),
    body: `
  if (i >= ${u32(n / 4)}) { return; }
  let p = params[i];
  let g = grads[i]${decay};${momentum}
  params[i] = p - lr * d;`,
  };
}
