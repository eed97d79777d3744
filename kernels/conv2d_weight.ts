/**
 * The weight and bias gradient of a 2-D convolution (kernels/conv2d.ts has the forward pass and
 * the input gradient).
 *
 *   x [B, C, H, W], dy [B, O, OH, OW] → partial [B, O*C*KH*KW + O], one row per image (weights
 *   then bias); `sumRows` (reduce.ts) then adds the rows into the gradient segment.
 *
 * @module
 */
import type { Conv2dShape } from "./conv2d.ts";
import { derivativeFromOutput, type FusibleActivation } from "./activation.ts";
import type { PoolKind } from "./pool.ts";
import {
  allOf,
  anyOf,
  type Binding,
  ceilDiv,
  type KernelSpec,
  u32,
  unroll,
  windowOutputSize,
} from "./spec.ts";
import { type ChunkPlan, uniformChunks, viewAccessor, viewBindings, viewHelpers } from "./views.ts";
import { dims, label } from "./_conv2d_dims.ts";

/** The chunk plan of {@linkcode conv2dBackwardWeight}: the input x is what goes uniform. */
export function conv2dWeightGradPlan(s: Conv2dShape, maxUniformFloats: number): ChunkPlan | null {
  return uniformChunks(s.batch, s.inChannels * s.height * s.width, maxUniformFloats);
}

/**
 * The chunk plans of {@linkcode conv2dBackwardWeight} with dy through views too: x and dy in the
 * same chunks of images (null when an image of either does not fit a view). With `pooled`, the
 * second plan is of a following 2×2 pooling's gradient instead (see {@linkcode PooledDy}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { conv2dWeightGradViews } from "./conv2d_weight.ts";
 * const shape = {
 *   batch: 256, inChannels: 6, height: 14, width: 14, outChannels: 16,
 *   kernel: [5, 5], stride: [1, 1], padding: [0, 0],
 * } as const;
 * const { plan, dyPlan } = conv2dWeightGradViews(shape, 16384)!;
 * assert.equal(plan.images, 10); // dy's 1,600 floats an image set the chunk size
 * assert.equal(dyPlan.chunks.length, plan.chunks.length);
 * ```
 */
export function conv2dWeightGradViews(
  s: Conv2dShape,
  maxUniformFloats: number,
  pooled = false,
): { plan: ChunkPlan; dyPlan: ChunkPlan } | null {
  const xFloats = s.inChannels * s.height * s.width;
  const [OH, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  if (pooled && (OH % 2 || OW % 2)) return null;
  const dyFloats = s.outChannels * OH * OW / (pooled ? 4 : 1);
  const x = uniformChunks(s.batch, xFloats, maxUniformFloats);
  const dy = uniformChunks(s.batch, dyFloats, maxUniformFloats);
  if (!x || !dy) return null;
  const images = Math.min(x.images, dy.images);
  return {
    plan: uniformChunks(s.batch, xFloats, maxUniformFloats, images)!,
    dyPlan: uniformChunks(s.batch, dyFloats, maxUniformFloats, images)!,
  };
}

/**
 * How {@linkcode conv2dBackwardWeight} reads its operands: x through uniform views (`plan`; dy too
 * with `dyPlan`, chunked alike), by input row with `window` (each input row loaded once, streamed
 * past a window of the last KH dy rows; vertical stride 1); or both from storage with `outBlock`
 * output channels × one kernel row per invocation.
 */
export type WeightGradVariant =
  | { plan: ChunkPlan; dyPlan?: ChunkPlan; window?: boolean }
  | { outBlock: number };

/**
 * Backward to weight and bias, first stage: one row of partial sums per image,
 * `partial[b, o*C*KH*KW + (c,ky,kx)] = Σ_{oy,ox} dy[b,o,oy,ox] · x[b, c, oy*SH+ky-PH, ox*SW+kx-PW]`
 * and `partial[b, O*C*KH*KW + o] = Σ_{oy,ox} dy[b,o,oy,ox]`; `sumRows(B, O*C*KH*KW + O)` follows.
 *
 * With `plan` (see {@linkcode conv2dWeightGradPlan}), x is read through uniform views, one
 * dispatch per chunk of images: each invocation owns one (image, o, c) with all KH×KW taps in
 * registers and streams dy once (the c = 0 ones also sum it for the bias). Bindings: a uniform view
 * of x, the chunk's constants, dy, partial; with `dyPlan` too (see
 * {@linkcode conv2dWeightGradViews}), dy is a view with its own constants, chunked like x. With
 * `outBlock` instead (images too large for a view), x is read from storage and each
 * invocation owns `outBlock` output channels × one kernel row: x, dy, partial.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { conv2dBackwardWeight, conv2dWeightGradPlan } from "./conv2d_weight.ts";
 * const shape = {
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * } as const;
 * const k = conv2dBackwardWeight(shape, { plan: conv2dWeightGradPlan(shape, 16384)! });
 * assert.deepEqual(k.bindings.map((b) => b.name), ["xu", "chunk", "dy", "partial"]);
 * ```
 */
export function conv2dBackwardWeight(
  s: Conv2dShape,
  variant: WeightGradVariant,
  pooledDy?: PooledDy,
): KernelSpec {
  if (pooledDy && "plan" in variant && variant.dyPlan) {
    throw new RangeError("a pooled dy is not stored: view dpool (PooledDy.view) instead");
  }
  if ("plan" in variant) {
    return backwardWeightUniform(
      s,
      variant.plan,
      variant.dyPlan,
      variant.window ?? false,
      pooledDy,
    );
  }
  if (pooledDy?.view) throw new RangeError("the storage variant reads dpool from storage");
  const spec = backwardWeightStorage(s, variant.outBlock);
  const dy = dyReader(s, pooledDy);
  return {
    ...spec,
    name: spec.name +
      (pooledDy
        ? ` dy from ${pooledDy.kind}pool2${pooledDy.gate ? ` gate ${pooledDy.gate}` : ""}`
        : ""),
    helpers: `${spec.helpers ?? ""}\n${dy.helper}`,
    bindings: spec.bindings.flatMap((b) => (b.name === "dy" ? dy.bindings : [b])),
  };
}

/**
 * The backward of a 2×2, stride-2 pooling after this convolution (and of the activation
 * between them), folded into its weight gradient: dy is never stored, each value is computed
 * where it is read, from the pooling's gradient (`dpool`), its argmax (max) and the activation's
 * output (`ygate`), exactly as the pooling's backward kernel would have stored it.
 */
export interface PooledDy {
  /** Average or max pooling. */
  kind: PoolKind;
  /** The activation between the convolution and the pooling, if any. */
  gate?: FusibleActivation;
  /**
   * Read dpool through uniform views chunked like x's (`plan` of the views variant; see
   * {@linkcode conv2dWeightGradViews}), not from storage.
   */
  view?: ChunkPlan;
}

/** `fn G(k)`, dy at flat index k, and the bindings it reads (in place of `dy`). */
function dyReader(s: Conv2dShape, pooled?: PooledDy): { helper: string; bindings: Binding[] } {
  if (!pooled) {
    return {
      helper: "fn G(k: u32) -> f32 { return dy[k]; }",
      bindings: [{ name: "dy", type: "array<f32>", access: "read" }],
    };
  }
  const d = dims(s);
  if (d.OH % 2 || d.OW % 2) throw new RangeError(`a 2×2 pooling needs an even ${d.OH}×${d.OW}`);
  const max = pooled.kind === "max";
  // The pooling kernel's expressions: (dpool · 0.25) for avg, dpool at the window's first
  // maximum for max; then times the activation's derivative at its output.
  const g = max ? `select(0.0, dpool[w], argmax[w] == oy * ${u32(d.OW)} + ox)` : "dpool[w] * 0.25";
  return {
    helper: `fn G(k: u32) -> f32 {
  let ox = k % ${u32(d.OW)};
  let oy = (k / ${u32(d.OW)}) % ${u32(d.OH)};
  let w = ((k / ${u32(d.OH * d.OW)}) * ${u32(d.OH / 2)} + oy / 2u) * ${u32(d.OW / 2)} + ox / 2u;
  let g = ${g};
  return ${pooled.gate ? `g * ${derivativeFromOutput(pooled.gate, "ygate[k]")}` : "g"};
}`,
    bindings: [
      { name: "dpool", type: "array<f32>", access: "read" },
      ...(max ? [{ name: "argmax", type: "array<u32>", access: "read" as const }] : []),
      ...(pooled.gate ? [{ name: "ygate", type: "array<f32>", access: "read" as const }] : []),
    ],
  };
}

type Dims = ReturnType<typeof dims>;

/** One input row's values (v0, v1, ...) for one output row's span, zeros on the padding. */
function inputRow(d: Dims, at: (ix: number) => string, indent = "    "): string {
  const span = (d.OW - 1) * d.SW + d.KW; // input columns one output row reads
  return unroll(span, (u) => {
    const ix = u - d.PW;
    return `${indent}let v${u} = ${ix < 0 || ix >= d.W ? "0.0" : at(ix)};`;
  });
}

/**
 * One row of dy, read as `pre` (its loads) and `at(ox)` (column ox): stored, or (a pooling's
 * backward folded in) from the pooled row, loaded once for its two rows and pairs of columns, and
 * the activation's output, as the pooling's backward kernel computes it.
 */
function dyRow(d: Dims, oy: string, pooled?: PooledDy) {
  if (!pooled) {
    return {
      pre: `    let dyrow = dyplane + ${oy} * ${u32(d.OW)};`,
      at: (ox: number) => `G(dyrow + ${u32(ox)})`,
    };
  }
  const PW = d.OW / 2;
  const max = pooled.kind === "max";
  const pooledAt = (j: number) =>
    pooled.view ? `P(pplane + qrow + ${u32(j)})` : `dpool[pplane + qrow + ${u32(j)}]`;
  const pre = `    let yrow = yplane + ${oy} * ${u32(d.OW)};
    let qrow = (${oy} / 2u) * ${u32(PW)};
${unroll(PW, (j) => `    let q${j} = ${pooledAt(j)};`)}${
    max ? "\n" + unroll(PW, (j) => `    let m${j} = argmax[gplane + qrow + ${u32(j)}];`) : ""
  }`;
  const at = (ox: number) => {
    const j = ox >> 1;
    const g = max
      ? `select(0.0, q${j}, m${j} == ${oy} * ${u32(d.OW)} + ${u32(ox)})`
      : `q${j} * 0.25`;
    return pooled.gate
      ? `${g} * ${derivativeFromOutput(pooled.gate, `ygate[yrow + ${u32(ox)}]`)}`
      : g;
  };
  return { pre, at };
}

/**
 * Per output row (oy): its dy row in registers, then per kernel row one input row, each value
 * reused across the taps and output columns it meets.
 */
function byOutputRow(d: Dims, pooled?: PooledDy): string {
  const dy = dyRow(d, "oy", pooled);
  const kernelRow = (ky: number) =>
    `    {
      let iy = i32(oy * ${u32(d.SH)}) + ${ky - d.PH};
      if (${allOf("iy >= 0", `iy < ${d.H}`)}) {
        let rowBase = xplane + u32(iy) * ${u32(d.W)};
${inputRow(d, (ix) => `X(rowBase + ${u32(ix)})`, "        ")}
${
      unroll(d.KW, (kx) =>
        `        acc${ky}_${kx} += ${unroll(d.OW, (ox) => `g${ox} * v${ox * d.SW + kx}`, " + ")};`)
    }
      }
    }`;
  return `  for (var oy = 0u; oy < ${u32(d.OH)}; oy++) {
${dy.pre}
${unroll(d.OW, (ox) => `    let g${ox} = ${dy.at(ox)};`)}
    gsum += ${unroll(d.OW, (ox) => `g${ox}`, " + ")};
${unroll(d.KH, kernelRow)}
  }`;
}

/**
 * Per input row (r): each is loaded once, and meets the last KH dy rows, kept in registers
 * (w{k} holds dy row r - k; zeros before the first and after the last). Every product and sum is
 * the by-output-row order's, so the results are bit-identical; it loads 24 values per 250
 * multiply-adds on conv2 instead of 80.
 */
function byInputRow(d: Dims, pooled?: PooledDy): string {
  const dy = dyRow(d, "oy", pooled);
  const w = (k: number, ox: number) => `w${k}_${ox}`;
  const shift = unroll(d.KH - 1, (j) => {
    const k = d.KH - 1 - j;
    return unroll(d.OW, (ox) => `    ${w(k, ox)} = ${w(k - 1, ox)};`);
  });
  const fmas = unroll(
    d.KH,
    (ky) =>
      unroll(
        d.KW,
        (kx) =>
          `    acc${ky}_${kx} += ${
            unroll(d.OW, (ox) => `${w(ky, ox)} * v${ox * d.SW + kx}`, " + ")
          };`,
      ),
  );
  return `${unroll(d.KH, (k) => unroll(d.OW, (ox) => `  var ${w(k, ox)} = 0.0;`))}
  for (var r = 0u; r < ${u32(d.OH + d.KH - 1)}; r++) {
${shift}
    let live = r < ${u32(d.OH)};
    let oy = min(r, ${u32(d.OH - 1)});
${dy.pre}
${unroll(d.OW, (ox) => `    ${w(0, ox)} = select(0.0, ${dy.at(ox)}, live);`)}
    gsum += ${unroll(d.OW, (ox) => w(0, ox), " + ")};
    let iy = i32(r) - ${d.PH};
    let rowOk = ${allOf("iy >= 0", `iy < ${d.H}`)};
    let rowBase = xplane + u32(clamp(iy, 0, ${d.H - 1})) * ${u32(d.W)};
${inputRow(d, (ix) => `select(0.0, X(rowBase + ${u32(ix)}), rowOk)`)}
${fmas}
  }`;
}

/** The views kernel's dy side: its accessor helper and its bindings (after x's views). */
function viewedDy(s: Conv2dShape, dyPlan: ChunkPlan | undefined, pooled?: PooledDy) {
  const helper = dyPlan
    ? viewAccessor("gu", "G")
    : pooled?.view
    ? viewAccessor("pu", "P")
    : pooled
    ? ""
    : dyReader(s).helper;
  const bindings: Binding[] = [
    ...(dyPlan
      ? viewBindings("gu", dyPlan, "gchunk")
      : pooled?.view
      ? viewBindings("pu", pooled.view, "pchunk")
      : [{ name: pooled ? "dpool" : "dy", type: "array<f32>", access: "read" as const }]),
    ...(pooled?.kind === "max"
      ? [{ name: "argmax", type: "array<u32>", access: "read" as const }]
      : []),
    ...(pooled?.gate ? [{ name: "ygate", type: "array<f32>", access: "read" as const }] : []),
  ];
  return { helper, bindings };
}

/** Where an invocation's planes of dy (or of the pooling's gradient and y) start. */
function dyPlanes(d: Dims, dyPlan: ChunkPlan | undefined, pooled?: PooledDy): string {
  const OHW = d.OH * d.OW, PHW = d.OH * d.OW / 4;
  if (!pooled) {
    return `  let dyplane = ${dyPlan ? "gchunk.base + (local" : "(b"} * ${u32(d.O)} + o) * ${
      u32(OHW)
    };`;
  }
  return `  let yplane = (b * ${u32(d.O)} + o) * ${u32(OHW)};
  let gplane = (b * ${u32(d.O)} + o) * ${u32(PHW)};
  let pplane = ${pooled.view ? "pchunk.base + (local" : "(b"} * ${u32(d.O)} + o) * ${u32(PHW)};`;
}

function backwardWeightUniform(
  s: Conv2dShape,
  plan: ChunkPlan,
  dyPlan: ChunkPlan | undefined,
  window: boolean,
  pooled?: PooledDy,
): KernelSpec {
  for (const other of [dyPlan, pooled?.view]) {
    if (other && (other.images !== plan.images || other.chunks.length !== plan.chunks.length)) {
      throw new RangeError("the views of x and dy (or dpool) must chunk the batch alike");
    }
  }
  const d = dims(s);
  if (window && d.SH !== 1) {
    throw new RangeError("a window of dy rows needs a vertical stride of 1");
  }
  const perImage = d.O * d.C; // one invocation per (o, c); the c == 0 ones also sum the bias
  const lanes = plan.images * perImage;
  const row = d.O * d.CKK + d.O;
  const dy = viewedDy(s, dyPlan, pooled);
  const pooledName = pooled
    ? ` dy from ${pooled.view ? "viewed " : ""}${pooled.kind}pool2${
      pooled.gate ? ` gate ${pooled.gate}` : ""
    }`
    : "";
  return {
    name: `${label("conv2d_backward_weight", s)} views of ${plan.images}${dyPlan ? " x, dy" : ""}${
      window ? " by input row" : ""
    }${pooledName}`,
    helpers: viewHelpers("xu", "X") + "\n" + dy.helper,
    bindings: [
      ...viewBindings("xu", plan),
      ...dy.bindings,
      { name: "partial", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: 32,
    workgroupCount: ceilDiv(lanes, 32),
    body: `
  let local = i / ${u32(perImage)};
  if (${anyOf(`i >= ${u32(lanes)}`, "local >= chunk.count")}) { return; }
  let b = chunk.first + local;
  let o = (i % ${u32(perImage)}) / ${u32(d.C)};
  let c = i % ${u32(d.C)};
${dyPlanes(d, dyPlan, pooled)}
  let xplane = chunk.base + (local * ${u32(d.C)} + c) * ${u32(d.H * d.W)};
  var gsum = 0.0;
${unroll(d.KH, (ky) => unroll(d.KW, (kx) => `  var acc${ky}_${kx} = 0.0;`))}
${window ? byInputRow(d, pooled) : byOutputRow(d, pooled)}
  let prow = b * ${u32(row)};
  if (c == 0u) { partial[prow + ${u32(d.O * d.CKK)} + o] = gsum; }
  let wrow = prow + (o * ${u32(d.C)} + c) * ${u32(d.KK)};
${
      unroll(d.KH, (ky) =>
        unroll(d.KW, (kx) => `  partial[wrow + ${u32(ky * d.KW + kx)}] = acc${ky}_${kx};`))
    }`,
  };
}

function backwardWeightStorage(s: Conv2dShape, OB: number): KernelSpec {
  const d = dims(s);
  if (d.O % OB) throw new RangeError(`a block of ${OB} channels does not divide ${d.O}`);
  const blocks = d.O / OB;
  const lanes = d.C * d.KH + 1; // the last lane of each image sums the bias
  const perImage = ceilDiv(lanes * blocks, 32);
  const row = d.O * d.CKK + d.O;
  const span = (d.OW - 1) * d.SW + d.KW;
  const OHW = d.OH * d.OW;
  const loads = unroll(span, (u) =>
    `    let ix${u} = i32(${u}) - ${d.PW};
    let v${u} = select(0.0, x[xrow + u32(clamp(ix${u}, 0, ${d.W - 1}))], ${
      allOf(`ix${u} >= 0`, `ix${u} < ${d.W}`)
    });`);
  return {
    name: `${label("conv2d_backward_weight", s)} storage block ${OB}`,
    bindings: [
      { name: "x", type: "array<f32>", access: "read" },
      { name: "dy", type: "array<f32>", access: "read" },
      { name: "partial", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: 32,
    workgroupCount: d.B * perImage,
    body: `
  let b = wg / ${u32(perImage)};
  let j = (wg % ${u32(perImage)}) * WORKGROUP_SIZE + lidx;
  if (j >= ${u32(lanes * blocks)}) { return; }
  let ob = (j / ${u32(lanes)}) * ${u32(OB)};
  let lane = j % ${u32(lanes)};
  let dybase = (b * ${u32(d.O)} + ob) * ${u32(OHW)};
  let prow = b * ${u32(row)};
  // Sums in the views variants' order (each row's sum, then added), so results never depend
  // on the variant.
  if (lane == ${u32(lanes - 1)}) {
${unroll(OB, (k) => `    var s${k} = 0.0;`)}
    for (var oy = 0u; oy < ${u32(d.OH)}; oy++) {
      let dyrow = dybase + oy * ${u32(d.OW)};
${
      unroll(OB, (k) =>
        `      s${k} += ${unroll(d.OW, (ox) => `G(dyrow + ${u32(k * OHW + ox)})`, " + ")};`)
    }
    }
${unroll(OB, (k) => `    partial[prow + ${u32(d.O * d.CKK)} + ob + ${u32(k)}] = s${k};`)}
    return;
  }
  let c = lane / ${u32(d.KH)};
  let ky = lane % ${u32(d.KH)};
${unroll(OB, (k) => unroll(d.KW, (kx) => `  var acc${k}_${kx} = 0.0;`))}
  for (var oy = 0u; oy < ${u32(d.OH)}; oy++) {
    let iy = i32(oy * ${u32(d.SH)} + ky) - ${d.PH};
    if (${anyOf("iy < 0", `iy >= ${d.H}`)}) { continue; }
    let xrow = ((b * ${u32(d.C)} + c) * ${u32(d.H)} + u32(iy)) * ${u32(d.W)};
    let dyrow = dybase + oy * ${u32(d.OW)};
${loads}
${unroll(OB, (k) => unroll(d.OW, (ox) => `    let g${k}_${ox} = G(dyrow + ${u32(k * OHW + ox)});`))}
${
      unroll(OB, (k) =>
        unroll(d.KW, (kx) =>
          `    acc${k}_${kx} += ${
            unroll(d.OW, (ox) =>
              `g${k}_${ox} * v${ox * d.SW + kx}`, " + ")
          };`))
    }
  }
${
      unroll(OB, (k) =>
        unroll(d.KW, (kx) =>
          `  partial[prow + (ob + ${u32(k)}) * ${u32(d.CKK)} + (c * ${u32(d.KH)} + ky) * ${
            u32(d.KW)
          } + ${u32(kx)}] = acc${k}_${kx};`))
    }`,
  };
}
