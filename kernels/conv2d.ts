/**
 * 2-D convolution (cross-correlation, as PyTorch's `Conv2d`), forward and backward to the input.
 *
 * Shapes (row-major):
 *   x  [B, C, H, W]          input
 *   wb [O*C*KH*KW + O]       weight [O, C, KH, KW] followed by bias [O] (one parameter segment)
 *   y  [B, O, OH, OW]        OH = floor((H + 2*PH - KH) / SH) + 1, OW likewise
 *   forward:          y  = conv(x, w) + bias
 *   backward input:   dx [B, C, H, W]
 *   backward weight:  conv2d_weight.ts
 *
 * Forward and backward-to-input are one register-tiled correlation: each invocation computes a
 * block of up to 16 output channels × a run of adjacent outputs in a row, loading each input row
 * segment once. Weights are read through a uniform binding and activations through uniform views
 * of 64 KiB (one dispatch per chunk of images) when they fit: on CPU adapters a uniform read costs
 * a thirtieth of a storage read. Activations can be fused in: `activation` applies one to the
 * forward output, `gate` multiplies the input gradient by one's derivative.
 *
 * @module
 */
import { activate, derivativeFromOutput, type FusibleActivation, isNan } from "./activation.ts";
import type { PoolKind } from "./pool.ts";
import { allOf, anyOf, type Binding, ceilDiv, type KernelSpec, u32, unroll } from "./spec.ts";
import { type ChunkPlan, viewBindings, viewHelpers } from "./views.ts";
import { type Conv2dShape, dims, label } from "./_conv2d_dims.ts";

export type { Conv2dShape } from "./_conv2d_dims.ts";

const WG = 64;

/** The register tile of one invocation of a correlation: output channels × adjacent columns. */
export interface ConvTile {
  /** Output channels per invocation (a divisor of the output channel count). */
  channels: number;
  /** Adjacent output columns of one row per invocation. */
  columns: number;
}

/** Options of the convolution kernels (the variant; `lib/nn/choose.ts` picks them). */
export interface Conv2dKernelOptions {
  /** The register tile (forward and backward to the input). */
  tile: ConvTile;
  /**
   * Bind the parameter segment as a uniform buffer (`array<vec4f>`) instead of storage. Uniform
   * reads are far cheaper on CPU adapters (lavapipe); the segment must fit the device's
   * `maxUniformBufferBindingSize`.
   */
  uniformWeights?: boolean;
  /** Forward: apply this activation to the output (the activation layer is fused in). */
  activation?: FusibleActivation;
  /**
   * Backward to the input: multiply by this activation's derivative at the input, read from an
   * extra `gate` binding (the input itself, i.e. the activation's output) before dx.
   */
  gate?: FusibleActivation;
  /**
   * Read the streamed operand (x forward, dy backward) through uniform views, one dispatch per
   * chunk: the first binding becomes two, the view and the chunk's constants.
   */
  inputPlan?: ChunkPlan;
  /** Forward: a 2×2, stride-2 pooling layer fused in after the activation. */
  pool?: FusedPool;
}

/**
 * A pooling layer (2×2 windows, stride 2, no padding, even output size) fused into the forward
 * correlation: each invocation computes two output rows in turn and pools them in registers, so
 * the pooled map is written without a pass of its own. Bindings after y: `pooled`, and for max
 * pooling `argmax` (each window's first maximum, as the pooling kernel records it). With
 * `keepInput` false (inference), neither y nor argmax is written or bound.
 */
export interface FusedPool {
  /** Average or max. */
  kind: PoolKind;
  /** Also write the pooling's input y and argmax (training: the backward passes read them). */
  keepInput: boolean;
}

/** Weight binding and an accessor `W(k)` for either binding kind. */
function weightBinding(floats: number, uniform: boolean) {
  return uniform
    ? {
      binding: {
        name: "wu",
        type: `array<vec4f, ${ceilDiv(floats, 4)}>`,
        access: "uniform" as const,
      },
      helpers: "fn W(k: u32) -> f32 { return wu[k >> 2u][k & 3u]; }",
    }
    : {
      binding: { name: "wb", type: "array<f32>", access: "read" as const },
      helpers: "fn W(k: u32) -> f32 { return wb[k]; }",
    };
}

/**
 * A 2-D correlation with register tiles: `out[b,p,oy,ox] = bias[p] + Σ_q Σ_ty,tx
 * in[b, q, oy*S + ty - pad, ox*S + tx - pad] · W(p, q, ty, tx)`, where `in` may be zero-dilated
 * (a logical position u holds element u / dilation when u % dilation == 0, else 0).
 * Each invocation computes PB output channels × TX adjacent outputs of one row.
 */
interface Correlation {
  name: string;
  tile: ConvTile;
  batch: number;
  inChannels: number; // Q
  inSize: readonly [number, number]; // stored input height and width
  dilation: readonly [number, number]; // of the input (stride of the convolution being differentiated)
  outChannels: number; // P
  outSize: readonly [number, number];
  taps: readonly [number, number];
  stride: readonly [number, number];
  pad: readonly [number, number];
  weightFloats: number;
  /** WGSL expression of the weight index for output channel `p`, input channel `q`, tap (ty, tx). */
  weightIndex: (p: string, q: string, ty: string, tx: string) => string;
  biasOffset?: number;
  uniformWeights: boolean;
  /** Store f(out) instead of out (an activation fused into the forward pass). */
  activation?: FusibleActivation;
  /** Store out · f'(gate) where gate = f(·) is stored like out (an activation's backward fused in). */
  gate?: FusibleActivation;
  /** Read the input through uniform views, one dispatch per chunk of images. */
  inputPlan?: ChunkPlan;
  /** A 2×2, stride-2 pooling of the (activated) output, fused in: see {@linkcode FusedPool}. */
  pool?: FusedPool;
}

/** What the parts of a correlation kernel share: the correlation and its derived sizes. */
interface CorrelationParts {
  c: Correlation;
  IH: number;
  IW: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  DH: number;
  DW: number;
  /** Logical (dilated) input height and width. */
  LH: number;
  LW: number;
  /** Output channels and columns per invocation. */
  PB: number;
  TX: number;
  /** Tiles per output row. */
  tiles: number;
  /** Images per dispatch (a chunk of views, or the batch). */
  images: number;
  /**
   * A tile that spans the whole row starts at column 0, so which of its taps fall on padding or
   * between dilated columns is known at generation time: those loads and multiply-adds are not
   * generated at all (on CPU adapters a branch costs both sides; only absent code saves time).
   */
  fullRow: boolean;
}

function correlationParts(c: Correlation): CorrelationParts {
  const [IH, IW] = c.inSize, [OH, OW] = c.outSize, [KH, KW] = c.taps, [SH, SW] = c.stride;
  const [DH, DW] = c.dilation;
  const PB = c.tile.channels, TX = c.tile.columns;
  if (c.outChannels % PB) {
    throw new RangeError(`tile of ${PB} channels does not divide ${c.outChannels}`);
  }
  if (c.pool && (OH % 2 || OW % 2 || TX % 2)) {
    throw new RangeError(`a fused 2×2 pooling needs an even output (${OH}×${OW}) and tile (${TX})`);
  }
  const tiles = ceilDiv(OW, TX);
  return {
    c,
    IH,
    IW,
    OH,
    OW,
    KH,
    KW,
    SH,
    SW,
    DH,
    DW,
    LH: (IH - 1) * DH + 1,
    LW: (IW - 1) * DW + 1,
    PB,
    TX,
    tiles,
    images: c.inputPlan ? c.inputPlan.images : c.batch,
    fullRow: tiles === 1,
  };
}

/** The input index of dilated position `v` (`u32(v) / D`). */
const stored = (v: string, D: number) => (D > 1 ? `u32(${v}) / ${u32(D)}` : `u32(${v})`);

/** Whether logical column `u` of a full-row tile's span holds an input value. */
function realColumn(g: CorrelationParts, u: number): boolean {
  const column = u - g.c.pad[1];
  return !g.fullRow || (column >= 0 && column < g.LW && column % g.DW === 0);
}

/** The loads of one input row segment: `v<u>` for each logical column the tile reads. */
function rowLoads(g: CorrelationParts): string {
  const { c, SW, KW, TX, LW, DW } = g;
  const input = (at: string) => (c.inputPlan ? `X(${at})` : `x[${at}]`);
  return unroll((TX - 1) * SW + KW, (u) => {
    if (g.fullRow) {
      return realColumn(g, u)
        ? `      let v${u} = ${input(`row + ${u32((u - c.pad[1]) / DW)}`)};`
        : "";
    }
    const at = `row + ${stored(`clamp(lx${u}, 0, ${LW - 1})`, DW)}`;
    const inRange = allOf(
      `lx${u} >= 0`,
      `lx${u} < ${LW}`,
      ...(DW > 1 ? [`lx${u} % ${DW} == 0`] : []),
    );
    return `      let lx${u} = lx0 + ${u};
      let v${u} = select(0.0, ${input(at)}, ${inRange});`;
  });
}

/** The multiply-adds of one kernel row: each weight loaded once, used for the tile's columns. */
function tapFmas(g: CorrelationParts): string {
  const { c, KW, PB, TX, SW, OW } = g;
  return unroll(KW, (tx) =>
    unroll(PB, (k) => {
      const terms = Array.from({ length: TX }, (_, t) => t)
        .filter((t) => realColumn(g, t * SW + tx) && (!g.fullRow || t < OW));
      if (!terms.length) return "";
      return `      { let wk = W(${c.weightIndex(`(pb + ${u32(k)})`, "q", "ty", `${u32(tx)}`)});
${terms.map((t) => `        acc${k}_${t} += v${t * SW + tx} * wk;`).join("\n")} }`;
    }));
}

/** The accumulators, starting at the bias (or zero). */
function accumulators(g: CorrelationParts): string {
  const { c, PB, TX } = g;
  const start = (k: number) =>
    c.biasOffset === undefined ? "0.0" : `W(${u32(c.biasOffset)} + pb + ${u32(k)})`;
  return unroll(PB, (k) => unroll(TX, (t) => `    var acc${k}_${t} = ${start(k)};`));
}

/** A store guarded at the row's end when the tiles do not divide it. */
function guarded(g: CorrelationParts, t: number, write: string): string {
  return g.OW % g.TX === 0
    ? `    ${write}`
    : `    if (ox0 + ${u32(t)} < ${u32(g.OW)}) { ${write} }`;
}

/** The outputs `o<k>_<t>` (activated or gated), stored to y unless only the pooling is kept. */
function outputs(g: CorrelationParts): string {
  const { c, PB, TX, OH, OW } = g;
  const pool = c.pool;
  return unroll(PB, (k) =>
    unroll(TX, (t) => {
      const at = `obase + ${u32(k * OH * OW)} + ox0 + ${u32(t)}`;
      const value = c.activation
        ? activate(c.activation, `acc${k}_${t}`)
        : c.gate
        ? `acc${k}_${t} * ${derivativeFromOutput(c.gate, `gate[${at}]`)}`
        : `acc${k}_${t}`;
      return `    let o${k}_${t} = ${value};${
        !pool || pool.keepInput ? `\n${guarded(g, t, `y[${at}] = o${k}_${t};`)}` : ""
      }`;
    }));
}

/**
 * A fused pooling's three parts: the stash of each window's first row (`s`, and the first
 * maximum's position `a`), what the first row leaves there, and how the second row completes each
 * window, in the pooling kernel's order (row by row, left to right).
 */
function poolParts(g: CorrelationParts, pool: FusedPool) {
  const { PB, TX, OH, OW } = g;
  const PH = OH / 2, PW = OW / 2;
  const max = pool.kind === "max";
  const pairs = (line: (k: number, j: number) => string) =>
    unroll(PB, (k) => unroll(TX / 2, (j) => line(k, j)));
  const at = (k: number, j: number) => `pbase + ${u32(k * PH * PW)} + ox0 / 2u + ${u32(j)}`;
  const position = (t: number) => `oy * ${u32(OW)} + ox0 + ${u32(t)}`;
  // A value replaces the maximum when larger, or NaN (PyTorch's max_pool2d propagates NaN).
  const wins = (v: string, m: string) => anyOf(`${v} > ${m}`, isNan(v));
  const secondMax = (k: number, j: number) =>
    `{
      var m = s${k}_${j}; var w = a${k}_${j};
      if (${wins(`o${k}_${2 * j}`, "m")}) { m = o${k}_${2 * j}; w = ${position(2 * j)}; }
      if (${wins(`o${k}_${2 * j + 1}`, "m")}) { m = o${k}_${2 * j + 1}; w = ${
      position(2 * j + 1)
    }; }
      pooled[${at(k, j)}] = m;${pool.keepInput ? ` argmax[${at(k, j)}] = w;` : ""} }`;
  const secondAvg = (k: number, j: number) =>
    `pooled[${at(k, j)}] = ((s${k}_${j} + o${k}_${2 * j}) + o${k}_${2 * j + 1}) * 0.25;`;
  return {
    stash: pairs((k, j) => `  var s${k}_${j} = 0.0;${max ? ` var a${k}_${j} = 0u;` : ""}`),
    firstRow: max
      ? pairs((k, j) =>
        `    s${k}_${j} = o${k}_${2 * j}; a${k}_${j} = ${position(2 * j)};
    if (${wins(`o${k}_${2 * j + 1}`, `s${k}_${j}`)}) { s${k}_${j} = o${k}_${
          2 * j + 1
        }; a${k}_${j} += 1u; }`
      )
      : pairs((k, j) => `    s${k}_${j} = o${k}_${2 * j} + o${k}_${2 * j + 1};`),
    secondRow: pairs((k, j) => guarded(g, 2 * j, (max ? secondMax : secondAvg)(k, j))),
    base: `  let pbase = ((b * ${u32(g.c.outChannels)} + pb) * ${u32(PH)} + py) * ${u32(PW)};`,
  };
}

/**
 * One output row: its accumulators, the input channels and kernel rows that meet it, then the
 * stores (and, when pooling, its half of the windows).
 */
function outputRow(g: CorrelationParts, oy: string, epilogue: string): string {
  const { c, SH, KH, LH, DH, IH, IW, OH, OW } = g;
  const plan = c.inputPlan;
  return `  {
    let oy = ${oy};
    // Only the kernel rows that meet the input: lanes run side by side, oy varies slowest, so
    // neighbours share (nearly) the same bounds and the loop does (nearly) no masked work.
    let top = i32(oy * ${u32(SH)}) - ${c.pad[0]};
    let tyFirst = u32(clamp(-top, 0, ${KH}));
    let tyEnd = u32(clamp(${LH} - top, 0, ${KH}));
${accumulators(g)}
    for (var q = 0u; q < ${u32(c.inChannels)}; q++) {
      for (var ty = tyFirst; ty < tyEnd; ty++) {
        let ly = i32(oy * ${u32(SH)} + ty) - ${c.pad[0]};${
    DH > 1 ? `\n        if (ly % ${DH} != 0) { continue; }` : ""
  }
        let row = ${plan ? "chunk.base + " : ""}((${plan ? "local" : "b"} * ${
    u32(c.inChannels)
  } + q) * ${u32(IH)} + ${stored("ly", DH)}) * ${u32(IW)};
${rowLoads(g)}
${tapFmas(g)}
      }
    }
    let obase = ((b * ${u32(c.outChannels)} + pb) * ${u32(OH)} + oy) * ${u32(OW)};
${outputs(g)}
${epilogue}
  }`;
}

/** The correlation's bindings: x (or its view), weights, gate, y, pooled, argmax. */
function correlationBindings(c: Correlation, weights: Binding) {
  const pool = c.pool;
  const f32 = (name: string, access: "read" | "read_write") =>
    ({ name, type: "array<f32>", access }) as const;
  return [
    ...(c.inputPlan ? viewBindings("xu", c.inputPlan) : [f32("x", "read")]),
    weights,
    ...(c.gate ? [f32("gate", "read")] : []),
    ...(!pool || pool.keepInput ? [f32("y", "read_write")] : []),
    ...(pool ? [f32("pooled", "read_write")] : []),
    ...(pool?.kind === "max" && pool.keepInput
      ? [{ name: "argmax", type: "array<u32>", access: "read_write" as const }]
      : []),
  ];
}

function correlate2d(c: Correlation): KernelSpec {
  const g = correlationParts(c);
  const { PB, TX, tiles, images, OH, SW } = g;
  const plan = c.inputPlan, pool = c.pool;
  const rows = images * (pool ? OH / 2 : OH) * tiles; // lanes: (output or pooled row, image, tile)
  const perBlock = ceilDiv(rows, WG);
  const w = weightBinding(c.weightFloats, c.uniformWeights);
  const pooled = pool && poolParts(g, pool);
  const body = pooled
    ? `${pooled.stash}
${pooled.base}
${outputRow(g, "2u * py", pooled.firstRow)}
${outputRow(g, "2u * py + 1u", pooled.secondRow)}`
    : outputRow(g, "py", "");
  return {
    name: `${c.name} tile ${PB}x${TX}${plan ? ` views of ${plan.images}` : ""}${
      pool ? ` + ${pool.kind}pool2${pool.keepInput ? "" : " only"}` : ""
    }`,
    helpers: w.helpers + (plan ? "\n" + viewHelpers("xu", "X") : ""),
    bindings: correlationBindings(c, w.binding),
    workgroupSize: WG,
    workgroupCount: perBlock * (c.outChannels / PB),
    body: `
  let pb = (wg / ${u32(perBlock)}) * ${u32(PB)};
  let r = (wg % ${u32(perBlock)}) * WORKGROUP_SIZE + lidx;
  if (r >= ${u32(rows)}) { return; }
  let ox0 = (r % ${u32(tiles)}) * ${u32(TX)};
  let local = (r / ${u32(tiles)}) % ${u32(images)};
  let py = r / ${u32(tiles * images)}; // the output row, or the pooled row when pooling${
      plan ? "\n  if (local >= chunk.count) { return; }" : ""
    }
  let b = ${plan ? "chunk.first + local" : "local"};
  let lx0 = i32(ox0 * ${u32(SW)}) - ${c.pad[1]};
${body}`,
  };
}

/**
 * Forward: `y = conv(x, w) + bias`. Bindings: x, the parameter segment (weights then bias), y
 * (and with `pool`, see {@linkcode FusedPool}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { conv2dForward } from "./conv2d.ts";
 * const k = conv2dForward({
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * }, { uniformWeights: true, tile: { channels: 6, columns: 4 } });
 * assert.deepEqual(k.bindings.map((b) => b.access), ["read", "uniform", "read_write"]);
 * ```
 */
export function conv2dForward(s: Conv2dShape, options: Conv2dKernelOptions): KernelSpec {
  const d = dims(s);
  return correlate2d({
    name: label("conv2d_forward", s),
    tile: options.tile,
    batch: d.B,
    inChannels: d.C,
    inSize: [d.H, d.W],
    dilation: [1, 1],
    outChannels: d.O,
    outSize: [d.OH, d.OW],
    taps: [d.KH, d.KW],
    stride: [d.SH, d.SW],
    pad: [d.PH, d.PW],
    weightFloats: d.O * d.CKK + d.O,
    weightIndex: (p, q, ty, tx) =>
      `((${p} * ${u32(d.C)} + ${q}) * ${u32(d.KH)} + ${ty}) * ${u32(d.KW)} + ${tx}`,
    biasOffset: d.O * d.CKK,
    uniformWeights: options.uniformWeights ?? false,
    activation: options.activation,
    inputPlan: options.inputPlan,
    pool: options.pool,
  });
}

/**
 * Backward to the input: the correlation of dy (zero-dilated by the stride, padded by K-1-P)
 * with the weights flipped and with in/out channels swapped:
 * `dx[b,c,iy,ix] = Σ_o Σ_ky,kx dy[b,o,oy,ox] · w[o,c,ky,kx]`. Bindings: dy, parameter segment, dx.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { conv2dBackwardInput } from "./conv2d.ts";
 * const k = conv2dBackwardInput({
 *   batch: 256, inChannels: 6, height: 14, width: 14, outChannels: 16,
 *   kernel: [5, 5], stride: [1, 1], padding: [0, 0],
 * }, { tile: { channels: 6, columns: 7 } });
 * assert.deepEqual(k.bindings.map((b) => b.name), ["x", "wb", "y"]); // dy is read as the correlation's input
 * ```
 */
export function conv2dBackwardInput(s: Conv2dShape, options: Conv2dKernelOptions): KernelSpec {
  const d = dims(s);
  // Input rows/columns past the last full window get no gradient from it; the dilated dy
  // grid covers (OH-1)*S+1 rows, padded so that every input position sees all its taps.
  return correlate2d({
    name: label("conv2d_backward_input", s),
    tile: options.tile,
    batch: d.B,
    inChannels: d.O,
    inSize: [d.OH, d.OW],
    dilation: [d.SH, d.SW],
    outChannels: d.C,
    outSize: [d.H, d.W],
    taps: [d.KH, d.KW],
    stride: [1, 1],
    pad: [d.KH - 1 - d.PH, d.KW - 1 - d.PW],
    weightFloats: d.O * d.CKK + d.O,
    weightIndex: (p, q, ty, tx) =>
      `((${q} * ${u32(d.C)} + ${p}) * ${u32(d.KH)} + ${u32(d.KH - 1)} - ${ty}) * ${u32(d.KW)} + ${
        u32(d.KW - 1)
      } - ${tx}`,
    uniformWeights: options.uniformWeights ?? false,
    gate: options.gate,
    inputPlan: options.inputPlan,
  });
}
