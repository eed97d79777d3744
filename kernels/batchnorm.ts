/**
 * Batch normalisation, PyTorch's `BatchNorm1d` / `BatchNorm2d`, forward and backward.
 *
 * Shapes (S = H·W, 1 for BatchNorm1d; N = B·S values per channel):
 *   x, y, dy, dx  [B, C, S]
 *   params        [2C]: weight γ then bias β (the layer's parameter segment); grads the same
 *   stats         [2C]: the batch's mean then 1/√(var + ε) (training; kept for the backward)
 *   state         [2C + 1]: running_mean, running_var, num_batches_tracked (PyTorch's buffers)
 *
 *   batchStats        (training) one workgroup per channel: mean, then the biased variance around
 *                     it (two passes, as PyTorch's CPU kernel); running_mean and running_var move
 *                     by `momentum` towards the mean and the unbiased variance, N/(N-1)·var
 *   normalize         y = (x - mean)·invstd·γ + β, with the batch's or the running statistics
 *   backwardReduce    per channel: dγ = Σ dy·x̂, dβ = Σ dy (x̂ = (x - mean)·invstd)
 *   backwardInput     batch statistics: dx = γ·invstd·(dy - dβ/N - x̂·dγ/N)
 *                     running statistics (evaluation, saliency): dx = γ·invstd·dy
 *
 * The reductions run in workgroup memory, a tree of WG lanes; every sum is in a fixed order.
 *
 * @module
 */
import { ceilDiv, f32, type KernelSpec, u32 } from "./spec.ts";

/** What a batch-normalisation kernel is specialised for. */
export interface BatchNormShape {
  /** Batch size B. */
  batch: number;
  /** Channels C (features, for BatchNorm1d). */
  channels: number;
  /** Values per channel per sample: H·W, or 1. */
  spatial: number;
  /** ε added to the variance. */
  eps: number;
}

/** Which statistics normalise: the batch's (training) or the running ones (evaluation). */
export type BatchNormStatistics = "batch" | "running";

/** Lanes of a reducing workgroup. */
const WG = 64;
/** Lanes of an element-wise workgroup. */
const EW = 256;

const read = (name: string) => ({ name, type: "array<f32>", access: "read" as const });
const write = (name: string) => ({ name, type: "array<f32>", access: "read_write" as const });

/** WGSL: `value`'s index for lane n of channel c's N values (batch-major, then the plane). */
function at(s: BatchNormShape, n: string): string {
  const S = u32(s.spatial), CS = u32(s.channels * s.spatial);
  return `(${n} / ${S}) * ${CS} + c * ${S} + ${n} % ${S}`;
}

/** WGSL: the workgroup's sum of each lane's `value` (all lanes get it), in a fixed tree order. */
const TREE = `
var<workgroup> lanes: array<f32, ${WG}>;
fn workgroup_sum(lidx: u32, value: f32) -> f32 {
  lanes[lidx] = value;
  workgroupBarrier();
  for (var k = ${WG / 2}u; k > 0u; k = k >> 1u) {
    if (lidx < k) { lanes[lidx] += lanes[lidx + k]; }
    workgroupBarrier();
  }
  let total = lanes[0];
  workgroupBarrier();
  return total;
}`;

/** WGSL: `1/√(var + ε)` of the running statistics of channel c. */
function runningInvstd(s: BatchNormShape): string {
  return `inverseSqrt(state[${u32(s.channels)} + c] + ${f32(s.eps)})`;
}

/**
 * Training statistics: each channel's mean and 1/√(var + ε) into `stats`, and the running
 * statistics updated in `state`. Bindings: x, stats, state. One workgroup per channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchStats } from "./batchnorm.ts";
 * const k = batchStats({ batch: 256, channels: 6, spatial: 784, eps: 1e-5 }, 0.1);
 * assert.equal(k.workgroupCount, 6);
 * ```
 */
export function batchStats(s: BatchNormShape, momentum: number): KernelSpec {
  const N = s.batch * s.spatial, C = s.channels;
  if (N < 2) {
    throw new RangeError(
      `BatchNorm: expected more than 1 value per channel when training, got ${N}`,
    );
  }
  return {
    name: `batchnorm_stats ${C}x${s.spatial} b${s.batch}`,
    bindings: [read("x"), write("stats"), write("state")],
    workgroupSize: WG,
    workgroupCount: C,
    helpers: TREE,
    body: `
  let c = wg;
  var sum = 0.0;
  for (var n = lidx; n < ${u32(N)}; n += ${WG}u) { sum += x[${at(s, "n")}]; }
  let mean = workgroup_sum(lidx, sum) / ${f32(N)};
  var squares = 0.0;
  for (var n = lidx; n < ${u32(N)}; n += ${WG}u) {
    let d = x[${at(s, "n")}] - mean;
    squares += d * d;
  }
  let variance = workgroup_sum(lidx, squares) / ${f32(N)};
  if (lidx == 0u) {
    stats[c] = mean;
    stats[${u32(C)} + c] = inverseSqrt(variance + ${f32(s.eps)});
    state[c] = ${f32(1 - momentum)} * state[c] + ${f32(momentum)} * mean;
    state[${u32(C)} + c] = ${f32(1 - momentum)} * state[${u32(C)} + c] + ${
      f32(momentum)
    } * (variance * ${f32(N / (N - 1))});
    if (c == 0u) { state[${u32(2 * C)}] += 1.0; }
  }`,
  };
}

/**
 * y = (x - mean)·invstd·γ + β. Bindings: x, params, stats (batch) or state (running), y.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchNormalize } from "./batchnorm.ts";
 * const k = batchNormalize({ batch: 8, channels: 120, spatial: 1, eps: 1e-5 }, "running");
 * assert.deepEqual(k.bindings.map((b) => b.name), ["x", "params", "state", "y"]);
 * ```
 */
export function batchNormalize(s: BatchNormShape, statistics: BatchNormStatistics): KernelSpec {
  const n = s.batch * s.channels * s.spatial, C = u32(s.channels);
  const batch = statistics === "batch";
  return {
    name: `batchnorm_forward ${s.channels}x${s.spatial} b${s.batch} ${statistics}`,
    bindings: [read("x"), read("params"), read(batch ? "stats" : "state"), write("y")],
    workgroupSize: EW,
    workgroupCount: ceilDiv(n, EW),
    body: `
  if (i >= ${u32(n)}) { return; }
  let c = (i / ${u32(s.spatial)}) % ${C};
  let mean = ${batch ? "stats[c]" : "state[c]"};
  let invstd = ${batch ? `stats[${C} + c]` : runningInvstd(s)};
  y[i] = (x[i] - mean) * invstd * params[c] + params[${C} + c];`,
  };
}

/**
 * Per channel: dγ = Σ dy·x̂ into grads[c], dβ = Σ dy into grads[C + c]. Bindings: x, dy, stats
 * (batch) or state (running), grads. One workgroup per channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchNormBackwardReduce } from "./batchnorm.ts";
 * const k = batchNormBackwardReduce({ batch: 8, channels: 16, spatial: 100, eps: 1e-5 }, "batch");
 * assert.equal(k.workgroupCount, 16);
 * ```
 */
export function batchNormBackwardReduce(
  s: BatchNormShape,
  statistics: BatchNormStatistics,
): KernelSpec {
  const N = s.batch * s.spatial, C = u32(s.channels);
  const batch = statistics === "batch";
  return {
    name: `batchnorm_backward_reduce ${s.channels}x${s.spatial} b${s.batch} ${statistics}`,
    bindings: [read("x"), read("dy"), read(batch ? "stats" : "state"), write("grads")],
    workgroupSize: WG,
    workgroupCount: s.channels,
    helpers: TREE,
    body: `
  let c = wg;
  let mean = ${batch ? "stats[c]" : "state[c]"};
  let invstd = ${batch ? `stats[${C} + c]` : runningInvstd(s)};
  var dgamma = 0.0;
  var dbeta = 0.0;
  for (var n = lidx; n < ${u32(N)}; n += ${WG}u) {
    let k = ${at(s, "n")};
    dgamma += dy[k] * (x[k] - mean) * invstd;
    dbeta += dy[k];
  }
  let gamma_sum = workgroup_sum(lidx, dgamma);
  let beta_sum = workgroup_sum(lidx, dbeta);
  if (lidx == 0u) {
    grads[c] = gamma_sum;
    grads[${C} + c] = beta_sum;
  }`,
  };
}

/**
 * dx from dy, after {@linkcode batchNormBackwardReduce} (which it reads from `grads`).
 * Bindings: x, dy, params, stats (batch) or state (running), grads, dx.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchNormBackwardInput } from "./batchnorm.ts";
 * const k = batchNormBackwardInput({ batch: 8, channels: 16, spatial: 100, eps: 1e-5 }, "batch");
 * assert.equal(k.bindings.at(-1)!.name, "dx");
 * ```
 */
export function batchNormBackwardInput(
  s: BatchNormShape,
  statistics: BatchNormStatistics,
): KernelSpec {
  const n = s.batch * s.channels * s.spatial, C = u32(s.channels);
  const N = s.batch * s.spatial;
  const batch = statistics === "batch";
  return {
    name: `batchnorm_backward_input ${s.channels}x${s.spatial} b${s.batch} ${statistics}`,
    bindings: [
      read("x"),
      read("dy"),
      read("params"),
      read(batch ? "stats" : "state"),
      read("grads"),
      write("dx"),
    ],
    workgroupSize: EW,
    workgroupCount: ceilDiv(n, EW),
    body: `
  if (i >= ${u32(n)}) { return; }
  let c = (i / ${u32(s.spatial)}) % ${C};
  ${
      batch
        ? `let mean = stats[c];
  let invstd = stats[${C} + c];
  let xhat = (x[i] - mean) * invstd;
  dx[i] = params[c] * invstd * (dy[i] - grads[${C} + c] / ${f32(N)} - xhat * grads[c] / ${f32(N)});`
        : `dx[i] = params[c] * ${runningInvstd(s)} * dy[i];`
    }`,
  };
}

/**
 * Folds an inference BatchNorm into the convolution before it: with s = γ/√(running_var + ε),
 * folded weights w'[o, ·] = w[o, ·]·s[o] and bias b'[o] = (b[o] - running_mean[o])·s[o] + β[o],
 * laid out as the convolution's segment (weights then bias). Bindings: conv (its parameters),
 * params (γ, β), state, folded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { foldBatchNorm } from "./batchnorm.ts";
 * const k = foldBatchNorm({ channels: 6, perChannel: 25, eps: 1e-5 });
 * assert.deepEqual(k.bindings.map((b) => b.name), ["conv", "params", "state", "folded"]);
 * ```
 */
export function foldBatchNorm(
  s: { channels: number; perChannel: number; eps: number },
): KernelSpec {
  const C = s.channels, K = s.perChannel, n = C * K + C;
  return {
    name: `batchnorm_fold ${C}x${K}`,
    bindings: [read("conv"), read("params"), read("state"), write("folded")],
    workgroupSize: EW,
    workgroupCount: ceilDiv(n, EW),
    body: `
  if (i >= ${u32(n)}) { return; }
  let weight = i < ${u32(C * K)};
  let c = select(i - ${u32(C * K)}, i / ${u32(K)}, weight);
  let scale = params[c] * inverseSqrt(state[${u32(C)} + c] + ${f32(s.eps)});
  folded[i] = select((conv[i] - state[c]) * scale + params[${
      u32(C)
    } + c], conv[i] * scale, weight);`,
  };
}
