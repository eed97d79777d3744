/**
 * 2-D convolution (cross-correlation, as PyTorch's `Conv2d`), forward and backward.
 *
 * Shapes (row-major):
 *   x  [B, C, H, W]          input
 *   wb [O*C*KH*KW + O]       weight [O, C, KH, KW] followed by bias [O] (one parameter segment)
 *   y  [B, O, OH, OW]        OH = floor((H + 2*PH - KH) / SH) + 1, OW likewise
 *   forward:          y  = conv(x, w) + bias
 *   backward input:   dx [B, C, H, W]
 *   backward weight:  partial [B, O*C*KH*KW + O], one row per image (weights then bias),
 *                     then `sumRows` (reduce.ts) adds the rows into the gradient segment.
 *
 * Each invocation computes a block of up to 16 channels, so every loaded input value feeds that
 * many multiply-adds; the block index comes from the workgroup id, so weight loads are uniform.
 *
 * @module
 */
import { blockSize, ceilDiv, type KernelSpec, u32, unroll } from "./spec.ts";

/** Shape of a convolution. */
export interface Conv2dShape {
  /** Batch size B. */
  batch: number;
  /** Input channels C. */
  inChannels: number;
  /** Input height H. */
  height: number;
  /** Input width W. */
  width: number;
  /** Output channels O. */
  outChannels: number;
  /** Kernel size [KH, KW]. */
  kernel: readonly [number, number];
  /** Stride [SH, SW]. */
  stride: readonly [number, number];
  /** Zero padding [PH, PW]. */
  padding: readonly [number, number];
}

const WG = 64;
const MAX_BLOCK = 16;

/** Output height and width of a convolution or pooling window. */
export function windowOutputSize(
  size: readonly [number, number],
  kernel: readonly [number, number],
  stride: readonly [number, number],
  padding: readonly [number, number],
): [number, number] {
  const out = (i: 0 | 1) => Math.floor((size[i] + 2 * padding[i] - kernel[i]) / stride[i]) + 1;
  return [out(0), out(1)];
}

function dims(s: Conv2dShape) {
  const [OH, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  if (OH < 1 || OW < 1) throw new RangeError(`conv2d: output would be ${OH}×${OW}`);
  const [KH, KW] = s.kernel, [SH, SW] = s.stride, [PH, PW] = s.padding;
  const { batch: B, inChannels: C, height: H, width: W, outChannels: O } = s;
  return { B, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW, KK: KH * KW, CKK: C * KH * KW };
}

function key(name: string, s: Conv2dShape): string {
  return `${name}:b${s.batch}:c${s.inChannels}:h${s.height}:w${s.width}:o${s.outChannels}` +
    `:k${s.kernel}:s${s.stride}:p${s.padding}`;
}

/** The parameter segment length of a convolution: weights then biases. */
export function conv2dParameterCount(
  inChannels: number,
  outChannels: number,
  kh: number,
  kw: number,
): number {
  return outChannels * inChannels * kh * kw + outChannels;
}

/** Options shared by the convolution kernels. */
export interface Conv2dKernelOptions {
  /**
   * Bind the parameter segment as a uniform buffer (`array<vec4f>`) instead of storage. Uniform
   * reads are far cheaper on CPU adapters (lavapipe); the segment must fit the device's
   * `maxUniformBufferBindingSize`.
   */
  uniformWeights?: boolean;
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
  key: string;
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
}

function largestDivisorUpTo(n: number, cap: number): number {
  for (let d = Math.min(n, cap); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

function correlate2d(c: Correlation): KernelSpec {
  const [IH, IW] = c.inSize, [OH, OW] = c.outSize, [KH, KW] = c.taps, [SH, SW] = c.stride;
  const [DH, DW] = c.dilation;
  const LH = (IH - 1) * DH + 1, LW = (IW - 1) * DW + 1; // logical (dilated) input size
  const PB = blockSize(c.outChannels, MAX_BLOCK);
  const cap = Math.max(1, Math.floor(32 / PB));
  const div = largestDivisorUpTo(OW, cap);
  const TX = 2 * div >= Math.min(cap, OW) ? div : Math.min(cap, OW);
  const tiles = ceilDiv(OW, TX);
  const span = (TX - 1) * SW + KW; // logical input columns one tile reads
  const rows = c.batch * OH * tiles;
  const perBlock = ceilDiv(rows, WG);
  const w = weightBinding(c.weightFloats, c.uniformWeights);
  const inRange = (v: string, size: number, D: number) =>
    `${v} >= 0 && ${v} < ${size}${D > 1 ? ` && ${v} % ${D} == 0` : ""}`;
  const stored = (v: string, D: number) => (D > 1 ? `u32(${v}) / ${u32(D)}` : `u32(${v})`);
  const loads = unroll(span, (u) =>
    `      let lx${u} = lx0 + ${u};
      let v${u} = select(0.0, x[row + ${stored(`clamp(lx${u}, 0, ${LW - 1})`, DW)}], ${
      inRange(`lx${u}`, LW, DW)
    });`);
  const fmas = unroll(
    KW,
    (tx) =>
      unroll(
        PB,
        (k) =>
          `      { let wk = W(${c.weightIndex(`(pb + ${u32(k)})`, "q", "ty", `${u32(tx)}`)});
${unroll(TX, (t) => `        acc${k}_${t} += v${t * SW + tx} * wk;`)} }`,
      ),
  );
  const init = unroll(
    PB,
    (k) =>
      unroll(
        TX,
        (t) =>
          `  var acc${k}_${t} = ${
            c.biasOffset === undefined ? "0.0" : `W(${u32(c.biasOffset)} + pb + ${u32(k)})`
          };`,
      ),
  );
  const store = unroll(PB, (k) =>
    unroll(TX, (t) => {
      const write = `y[obase + ${u32(k * OH * OW)} + ox0 + ${u32(t)}] = acc${k}_${t};`;
      return OW % TX === 0 ? `  ${write}` : `  if (ox0 + ${u32(t)} < ${u32(OW)}) { ${write} }`;
    }));
  return {
    key: `${c.key}:tile${PB}x${TX}:u${c.uniformWeights}`,
    helpers: w.helpers,
    bindings: [
      { name: "x", type: "array<f32>", access: "read" },
      w.binding,
      { name: "y", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: perBlock * (c.outChannels / PB),
    body: `
  let pb = (wg / ${u32(perBlock)}) * ${u32(PB)};
  let r = (wg % ${u32(perBlock)}) * WORKGROUP_SIZE + lidx;
  if (r >= ${u32(rows)}) { return; }
  let ox0 = (r % ${u32(tiles)}) * ${u32(TX)};
  let oy = (r / ${u32(tiles)}) % ${u32(OH)};
  let b = r / ${u32(tiles * OH)};
  let lx0 = i32(ox0 * ${u32(SW)}) - ${c.pad[1]};
${init}
  for (var q = 0u; q < ${u32(c.inChannels)}; q++) {
    for (var ty = 0u; ty < ${u32(KH)}; ty++) {
      let ly = i32(oy * ${u32(SH)} + ty) - ${c.pad[0]};
      if (!(${inRange("ly", LH, DH)})) { continue; }
      let row = ((b * ${u32(c.inChannels)} + q) * ${u32(IH)} + ${stored("ly", DH)}) * ${u32(IW)};
${loads}
${fmas}
    }
  }
  let obase = ((b * ${u32(c.outChannels)} + pb) * ${u32(OH)} + oy) * ${u32(OW)};
${store}`,
  };
}

/**
 * Forward: `y = conv(x, w) + bias`. Bindings: x, the parameter segment (weights then bias), y.
 *
 * @example
 * ```ts
 * import { conv2dForward } from "./conv2d.ts";
 * const k = conv2dForward({
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * }, { uniformWeights: true });
 * ```
 */
export function conv2dForward(s: Conv2dShape, options: Conv2dKernelOptions = {}): KernelSpec {
  const d = dims(s);
  return correlate2d({
    key: key("conv2d_forward", s),
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
  });
}

/**
 * Backward to the input: the correlation of dy (zero-dilated by the stride, padded by K-1-P)
 * with the weights flipped and with in/out channels swapped:
 * `dx[b,c,iy,ix] = Σ_o Σ_ky,kx dy[b,o,oy,ox] · w[o,c,ky,kx]`. Bindings: dy, parameter segment, dx.
 *
 * @example
 * ```ts
 * import { conv2dBackwardInput } from "./conv2d.ts";
 * const k = conv2dBackwardInput({
 *   batch: 256, inChannels: 6, height: 14, width: 14, outChannels: 16,
 *   kernel: [5, 5], stride: [1, 1], padding: [0, 0],
 * });
 * ```
 */
export function conv2dBackwardInput(s: Conv2dShape, options: Conv2dKernelOptions = {}): KernelSpec {
  const d = dims(s);
  // Input rows/columns past the last full window get no gradient from it; the dilated dy
  // grid covers (OH-1)*S+1 rows, padded so that every input position sees all its taps.
  return correlate2d({
    key: key("conv2d_backward_input", s),
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
  });
}

/** One chunk of images whose dy is read through a uniform view. */
export interface WeightGradChunk {
  /** First image. */
  first: number;
  /** Images in the chunk. */
  count: number;
  /** Float offset of the uniform view in dy (a multiple of 64: 256-byte binding alignment). */
  viewOffset: number;
  /** Float offset of the chunk's first image within the view. */
  base: number;
}

/** How dy is split into uniform views for {@linkcode conv2dBackwardWeight}. */
export interface WeightGradPlan {
  /** Images per chunk (the last may have fewer). */
  images: number;
  /** Floats in each view (the WGSL array length × 4). */
  viewFloats: number;
  /** The chunks. */
  chunks: WeightGradChunk[];
}

/**
 * Splits the batch so that each chunk's dy fits one uniform binding of `maxUniformFloats`
 * floats; null when not even one image fits (then dy is read from storage). Views start at
 * 64-float (256-byte) boundaries; the last is clamped to end at `ceil64(B·O·OH·OW)`, which the
 * dy buffer must hold (storage buffers here are rounded up to 256 bytes).
 */
export function conv2dWeightGradPlan(
  s: Conv2dShape,
  maxUniformFloats: number,
): WeightGradPlan | null {
  const d = dims(s);
  const per = d.O * d.OH * d.OW;
  const total = ceilDiv(d.B * per, 64) * 64;
  const viewFloats = Math.min(Math.floor(maxUniformFloats / 64) * 64, total);
  const images = total <= viewFloats ? d.B : Math.floor((viewFloats - 63) / per);
  if (images < 1) return null;
  const chunks: WeightGradChunk[] = [];
  for (let first = 0; first < d.B; first += images) {
    const start = first * per;
    const viewOffset = Math.min(Math.floor(start / 64) * 64, total - viewFloats);
    chunks.push({
      first,
      count: Math.min(images, d.B - first),
      viewOffset,
      base: start - viewOffset,
    });
  }
  return { images, viewFloats, chunks };
}

/** The constants of each chunk, one 256-byte slot each (uniform binding offsets must align). */
export function weightGradChunkConstants(plan: WeightGradPlan): Uint32Array {
  const out = new Uint32Array(plan.chunks.length * 64);
  plan.chunks.forEach((c, k) => out.set([c.first, c.count, c.base], k * 64));
  return out;
}

/**
 * Backward to weight and bias, first stage: one row of partial sums per image,
 * `partial[b, o*C*KH*KW + (c,ky,kx)] = Σ_{oy,ox} dy[b,o,oy,ox] · x[b, c, oy*SH+ky-PH, ox*SW+kx-PW]`
 * and `partial[b, O*C*KH*KW + o] = Σ_{oy,ox} dy[b,o,oy,ox]`. Each invocation owns one (c, ky)
 * row of taps for a block of output channels: the input row is loaded once per output row and
 * reused across kx and the block. `sumRows(B, O*C*KH*KW + O)` follows.
 *
 * Bindings: x, dy, partial — or, with a plan, x, a uniform view of dy, the chunk's constants
 * (`first`, `count`, `base`), partial, dispatched once per chunk: dy is then read at uniform cost.
 *
 * @example
 * ```ts
 * import { conv2dBackwardWeight } from "./conv2d.ts";
 * const k = conv2dBackwardWeight({
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * });
 * ```
 */
export function conv2dBackwardWeight(
  s: Conv2dShape,
  plan: WeightGradPlan | null = null,
): KernelSpec {
  const d = dims(s);
  const OB = blockSize(d.O, Math.max(1, Math.floor(32 / d.KW)));
  const blocks = d.O / OB;
  const lanes = d.C * d.KH + 1; // the last lane of each image sums the bias
  const perImage = ceilDiv(lanes * blocks, 32);
  const row = d.O * d.CKK + d.O;
  const span = (d.OW - 1) * d.SW + d.KW;
  const OHW = d.OH * d.OW;
  const G = (k: string) => (plan ? `D(${k})` : `dy[${k}]`);
  const loads = unroll(span, (u) =>
    `    let ix${u} = i32(${u}) - ${d.PW};
    let v${u} = select(0.0, x[xrow + u32(clamp(ix${u}, 0, ${
      d.W - 1
    }))], ix${u} >= 0 && ix${u} < ${d.W});`);
  return {
    key: key("conv2d_backward_weight", s) + `:ob${OB}` +
      (plan ? `:chunk${plan.images}:v${plan.viewFloats}` : ""),
    helpers: plan
      ? `struct Chunk { first: u32, count: u32, base: u32 }
fn D(k: u32) -> f32 { return dyu[k >> 2u][k & 3u]; }`
      : undefined,
    bindings: plan
      ? [
        { name: "x", type: "array<f32>", access: "read" },
        { name: "dyu", type: `array<vec4f, ${plan.viewFloats / 4}>`, access: "uniform" },
        { name: "chunk", type: "Chunk", access: "uniform" },
        { name: "partial", type: "array<f32>", access: "read_write" },
      ]
      : [
        { name: "x", type: "array<f32>", access: "read" },
        { name: "dy", type: "array<f32>", access: "read" },
        { name: "partial", type: "array<f32>", access: "read_write" },
      ],
    workgroupSize: 32,
    workgroupCount: (plan ? plan.images : d.B) * perImage,
    body: `
  let local = wg / ${u32(perImage)};
  let j = (wg % ${u32(perImage)}) * WORKGROUP_SIZE + lidx;
  if (j >= ${u32(lanes * blocks)}${plan ? " || local >= chunk.count" : ""}) { return; }
  let b = ${plan ? "chunk.first + local" : "local"};
  let ob = (j / ${u32(lanes)}) * ${u32(OB)};
  let lane = j % ${u32(lanes)};
  let dybase = ${plan ? "chunk.base + " : ""}(${plan ? "local" : "b"} * ${u32(d.O)} + ob) * ${
      u32(OHW)
    };
  let prow = b * ${u32(row)};
  if (lane == ${u32(lanes - 1)}) {
${unroll(OB, (k) => `    var s${k} = 0.0;`)}
    for (var p = 0u; p < ${u32(OHW)}; p++) {
${unroll(OB, (k) => `      s${k} += ${G(`dybase + ${u32(k * OHW)} + p`)};`)}
    }
${unroll(OB, (k) => `    partial[prow + ${u32(d.O * d.CKK)} + ob + ${u32(k)}] = s${k};`)}
    return;
  }
  let c = lane / ${u32(d.KH)};
  let ky = lane % ${u32(d.KH)};
${unroll(OB, (k) => unroll(d.KW, (kx) => `  var acc${k}_${kx} = 0.0;`))}
  for (var oy = 0u; oy < ${u32(d.OH)}; oy++) {
    let iy = i32(oy * ${u32(d.SH)} + ky) - ${d.PH};
    if (iy < 0 || iy >= ${d.H}) { continue; }
    let xrow = ((b * ${u32(d.C)} + c) * ${u32(d.H)} + u32(iy)) * ${u32(d.W)};
    let dyrow = dybase + oy * ${u32(d.OW)};
${loads}
${
      unroll(d.OW, (ox) =>
        `    {
${unroll(OB, (k) => `      let g${k} = ${G(`dyrow + ${u32(k * OHW + ox)}`)};`)}
${unroll(d.KW, (kx) => unroll(OB, (k) => `      acc${k}_${kx} += g${k} * v${ox * d.SW + kx};`))}
    }`)
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
