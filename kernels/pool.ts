/**
 * Average and max pooling (PyTorch's `AvgPool2d` with `count_include_pad=True`, `MaxPool2d`),
 * forward and backward.
 *
 * Shapes:
 *   x  [B, C, H, W]      input
 *   y  [B, C, OH, OW]    OH = floor((H + 2*PH - KH) / SH) + 1
 *   idx [B, C, OH, OW]   max pooling: the winning input position iy*W + ix (first maximum)
 *   backward: dx [B, C, H, W] from dy [B, C, OH, OW], in one of two variants:
 *     tiled:  one invocation per window writes every input of it (windows must tile the input);
 *     gather: one invocation per input element gathers from the windows that cover it, so
 *             overlapping windows need no atomics.
 *
 * @module
 */
import { derivativeFromOutput, type FusibleActivation, isNan } from "./activation.ts";
import {
  anyOf,
  type Binding,
  ceilDiv,
  f32,
  type KernelSpec,
  u32,
  unroll,
  windowOutputSize,
} from "./spec.ts";

/** Shape of a pooling layer. */
export interface Pool2dShape {
  /** Batch size B. */
  batch: number;
  /** Channels C. */
  channels: number;
  /** Input height H. */
  height: number;
  /** Input width W. */
  width: number;
  /** Window [KH, KW]. */
  kernel: readonly [number, number];
  /** Stride [SH, SW]. */
  stride: readonly [number, number];
  /** Padding [PH, PW]. */
  padding: readonly [number, number];
}

/** The poolings there are kernels for: the one home of their names (flags, files, options). */
export const POOL_KINDS = ["avg", "max"] as const;
/** Pooling kind. */
export type PoolKind = (typeof POOL_KINDS)[number];

/** What every consumer needs to know of one pooling kind besides its kernels. */
export interface PoolEntry {
  /** PyTorch's module name. */
  torch: string;
  /** The ONNX operator. */
  onnx: string;
}

/**
 * Every pooling kind, one line each (the kernels branch on the kind below). Global average
 * pooling (`AdaptiveAvgPool2d(1)`) is average pooling with the plane as its window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { POOLINGS } from "./pool.ts";
 * assert.equal(POOLINGS.max.onnx, "MaxPool");
 * ```
 */
export const POOLINGS = {
  avg: { torch: "AvgPool2d", onnx: "AveragePool" },
  max: { torch: "MaxPool2d", onnx: "MaxPool" },
} as const satisfies Record<PoolKind, PoolEntry>;

const WG = 64;

function dims(s: Pool2dShape) {
  const [OH, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  if (OH < 1 || OW < 1) throw new RangeError(`pool2d: output would be ${OH}×${OW}`);
  return {
    BC: s.batch * s.channels,
    H: s.height,
    W: s.width,
    KH: s.kernel[0],
    KW: s.kernel[1],
    SH: s.stride[0],
    SW: s.stride[1],
    PH: s.padding[0],
    PW: s.padding[1],
    OH,
    OW,
  };
}

function label(name: string, s: Pool2dShape): string {
  return `${name} ${s.channels}x${s.height}x${s.width} k${s.kernel[0]}`;
}

/** The pooling backward variants (see the module doc); `lib/nn/choose.ts` picks one. */
export type PoolBackwardVariant = "tiled" | "gather";

/** True when the windows tile the input exactly (stride = window, no padding, no remainder). */
export function windowsTileInput(s: Pool2dShape): boolean {
  const d = dims(s);
  return d.KH === d.SH && d.KW === d.SW && d.PH === 0 && d.PW === 0 && d.H % d.KH === 0 &&
    d.W % d.KW === 0;
}

/**
 * Forward pooling. Bindings: x, y, and for max pooling idx (array<u32>).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pool2dForward } from "./pool.ts";
 * const k = pool2dForward("avg", {
 *   batch: 256, channels: 6, height: 28, width: 28, kernel: [2, 2], stride: [2, 2], padding: [0, 0],
 * });
 * assert.equal(k.bindings.length, 2); // max pooling adds the winners' positions
 * ```
 */
export function pool2dForward(kind: PoolKind, s: Pool2dShape): KernelSpec {
  const d = dims(s);
  const n = d.BC * d.OH * d.OW;
  const max = kind === "max";
  return {
    name: label(`${kind}pool2d_forward`, s),
    bindings: [
      { name: "x", type: "array<f32>", access: "read" },
      { name: "y", type: "array<f32>", access: "read_write" },
      ...(max ? [{ name: "idx", type: "array<u32>", access: "read_write" as const }] : []),
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    body: `
  if (i >= ${u32(n)}) { return; }
  let ox = i % ${u32(d.OW)};
  let oy = (i / ${u32(d.OW)}) % ${u32(d.OH)};
  let plane = (i / ${u32(d.OH * d.OW)}) * ${u32(d.H * d.W)};
  var acc = 0.0;
  var arg = 0xffffffffu;
  for (var ky = 0u; ky < ${u32(d.KH)}; ky++) {
    let iy = i32(oy * ${u32(d.SH)} + ky) - ${d.PH};
    if (${anyOf("iy < 0", `iy >= ${d.H}`)}) { continue; }
    for (var kx = 0u; kx < ${u32(d.KW)}; kx++) {
      let ix = i32(ox * ${u32(d.SW)} + kx) - ${d.PW};
      if (${anyOf("ix < 0", `ix >= ${d.W}`)}) { continue; }
      let at = u32(iy) * ${u32(d.W)} + u32(ix);
      let v = x[plane + at];
      ${
      // NaN wins, as in PyTorch's max_pool2d (the last NaN of the window, like its index).
      max
        ? `if (${anyOf("arg == 0xffffffffu", "v > acc", isNan("v"))}) { acc = v; arg = at; }`
        : "acc += v;"}
    }
  }
  ${max ? "y[i] = acc;\n  idx[i] = arg;" : `y[i] = acc * ${f32(1 / (d.KH * d.KW))};`}`,
  };
}

/**
 * Backward pooling in the given variant: `dx` from `dy` (and the forward's `idx` for max
 * pooling). With `gate`, dx is
 * multiplied by that activation's derivative at the pooling input (an activation's backward
 * fused in). Bindings: dy, [idx,] [gate (the pooling input),] dx.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pool2dBackward } from "./pool.ts";
 * const k = pool2dBackward("max", {
 *   batch: 256, channels: 16, height: 10, width: 10, kernel: [2, 2], stride: [2, 2], padding: [0, 0],
 * }, { variant: "tiled" });
 * assert.match(k.name, /tiled/);
 * ```
 */
export function pool2dBackward(
  kind: PoolKind,
  s: Pool2dShape,
  options: { variant: PoolBackwardVariant; gate?: FusibleActivation },
): KernelSpec {
  if (options.variant === "gather") return gatherBackward(kind, s, options.gate);
  if (!windowsTileInput(s)) {
    throw new RangeError("pool2dBackward: the tiled variant needs windows that tile the input");
  }
  return tiledBackward(kind, s, options.gate);
}

function bindingsBackward(kind: PoolKind, gate?: FusibleActivation): Binding[] {
  return [
    { name: "dy", type: "array<f32>", access: "read" },
    ...(kind === "max" ? [{ name: "idx", type: "array<u32>", access: "read" as const }] : []),
    ...(gate ? [{ name: "gate", type: "array<f32>", access: "read" as const }] : []),
    { name: "dx", type: "array<f32>", access: "read_write" },
  ];
}

function tiledBackward(kind: PoolKind, s: Pool2dShape, gate?: FusibleActivation): KernelSpec {
  const d = dims(s);
  const n = d.BC * d.OH * d.OW;
  const max = kind === "max";
  const write = (ky: number, kx: number) => {
    const at = `base + ${u32(ky * d.W + kx)}`;
    const g = max ? `select(0.0, g, top + ${u32(ky * d.W + kx)} == winner)` : "g";
    return `  dx[${at}] = ${g}${gate ? ` * ${derivativeFromOutput(gate, `gate[${at}]`)}` : ""};`;
  };
  return {
    name: label(`${kind}pool2d_backward tiled`, s),
    bindings: bindingsBackward(kind, gate),
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    body: `
  if (i >= ${u32(n)}) { return; }
  let ox = i % ${u32(d.OW)};
  let oy = (i / ${u32(d.OW)}) % ${u32(d.OH)};
  let top = oy * ${u32(d.KH * d.W)} + ox * ${u32(d.KW)};
  let base = (i / ${u32(d.OH * d.OW)}) * ${u32(d.H * d.W)} + top;
  let g = dy[i]${max ? "" : ` * ${f32(1 / (d.KH * d.KW))}`};${max ? "\n  let winner = idx[i];" : ""}
${unroll(d.KH, (ky) => unroll(d.KW, (kx) => write(ky, kx)))}`,
  };
}

function gatherBackward(kind: PoolKind, s: Pool2dShape, gate?: FusibleActivation): KernelSpec {
  const d = dims(s);
  const n = d.BC * d.H * d.W;
  const max = kind === "max";
  const outside = (t: string, S: number) =>
    S > 1 ? anyOf(`${t} < 0`, `${t} % ${S} != 0`) : `${t} < 0`;
  return {
    name: label(`${kind}pool2d_backward gather`, s),
    bindings: bindingsBackward(kind, gate),
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    body: `
  if (i >= ${u32(n)}) { return; }
  let ix = i % ${u32(d.W)};
  let iy = (i / ${u32(d.W)}) % ${u32(d.H)};
  let at = iy * ${u32(d.W)} + ix;
  let oplane = (i / ${u32(d.H * d.W)}) * ${u32(d.OH * d.OW)};
  var acc = 0.0;
  for (var ky = 0u; ky < ${u32(d.KH)}; ky++) {
    let ty = i32(iy) + ${d.PH} - i32(ky);
    if (${outside("ty", d.SH)}) { continue; }
    let oy = u32(ty) / ${u32(d.SH)};
    if (oy >= ${u32(d.OH)}) { continue; }
    for (var kx = 0u; kx < ${u32(d.KW)}; kx++) {
      let tx = i32(ix) + ${d.PW} - i32(kx);
      if (${outside("tx", d.SW)}) { continue; }
      let ox = u32(tx) / ${u32(d.SW)};
      if (ox >= ${u32(d.OW)}) { continue; }
      let o = oplane + oy * ${u32(d.OW)} + ox;
      ${max ? "if (idx[o] == at) { acc += dy[o]; }" : "acc += dy[o];"}
    }
  }
  dx[i] = acc${max ? "" : ` * ${f32(1 / (d.KH * d.KW))}`}${
      gate ? ` * ${derivativeFromOutput(gate, "gate[i]")}` : ""
    };`,
  };
}
