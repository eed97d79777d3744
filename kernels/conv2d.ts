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

/**
 * Forward: `y = conv(x, w) + bias`. Bindings: x, wb, y.
 *
 * @example
 * ```ts
 * import { conv2dForward } from "./conv2d.ts";
 * const k = conv2dForward({
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * });
 * ```
 */
export function conv2dForward(s: Conv2dShape): KernelSpec {
  const d = dims(s);
  const OB = blockSize(d.O, MAX_BLOCK);
  const positions = d.B * d.OH * d.OW;
  const perBlock = ceilDiv(positions, WG);
  return {
    key: key("conv2d_forward", s),
    bindings: [
      { name: "x", type: "array<f32>", access: "read" },
      { name: "wb", type: "array<f32>", access: "read" },
      { name: "y", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: perBlock * (d.O / OB),
    body: `
  let ob = wg / ${u32(perBlock)};
  let p = (wg % ${u32(perBlock)}) * WORKGROUP_SIZE + lidx;
  if (p >= ${u32(positions)}) { return; }
  let ox = p % ${u32(d.OW)};
  let oy = (p / ${u32(d.OW)}) % ${u32(d.OH)};
  let b = p / ${u32(d.OH * d.OW)};
  let wblock = ob * ${u32(OB * d.CKK)};
${unroll(OB, (k) => `  var acc${k} = wb[${u32(d.O * d.CKK)} + ob * ${u32(OB)} + ${u32(k)}];`)}
  for (var c = 0u; c < ${u32(d.C)}; c++) {
    for (var ky = 0u; ky < ${u32(d.KH)}; ky++) {
      let iy = i32(oy * ${u32(d.SH)} + ky) - ${d.PH};
      if (iy < 0 || iy >= ${d.H}) { continue; }
      let xrow = ((b * ${u32(d.C)} + c) * ${u32(d.H)} + u32(iy)) * ${u32(d.W)};
      let wrow = wblock + (c * ${u32(d.KH)} + ky) * ${u32(d.KW)};
      for (var kx = 0u; kx < ${u32(d.KW)}; kx++) {
        let ix = i32(ox * ${u32(d.SW)} + kx) - ${d.PW};
        if (ix < 0 || ix >= ${d.W}) { continue; }
        let xv = x[xrow + u32(ix)];
${unroll(OB, (k) => `        acc${k} += xv * wb[wrow + kx + ${u32(k * d.CKK)}];`)}
      }
    }
  }
  let ybase = ((b * ${u32(d.O)} + ob * ${u32(OB)}) * ${u32(d.OH)} + oy) * ${u32(d.OW)} + ox;
${unroll(OB, (k) => `  y[ybase + ${u32(k * d.OH * d.OW)}] = acc${k};`)}`,
  };
}

/**
 * Backward to the input: `dx[b,c,iy,ix] = Σ dy[b,o,oy,ox] · w[o,c,ky,kx]` over the outputs whose
 * window covers (iy, ix). Bindings: dy, wb, dx.
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
export function conv2dBackwardInput(s: Conv2dShape): KernelSpec {
  const d = dims(s);
  const CB = blockSize(d.C, MAX_BLOCK);
  const positions = d.B * d.H * d.W;
  const perBlock = ceilDiv(positions, WG);
  // The output row (column) whose window puts tap k on this input row (column), if any.
  const tap = (axis: "y" | "x", S: number, out: number) => `
      let t${axis} = i${axis}p - i32(k${axis});
      if (t${axis} < 0${S > 1 ? ` || t${axis} % ${S} != 0` : ""}) { continue; }
      let o${axis} = u32(t${axis}) / ${u32(S)};
      if (o${axis} >= ${u32(out)}) { continue; }`;
  return {
    key: key("conv2d_backward_input", s),
    bindings: [
      { name: "dy", type: "array<f32>", access: "read" },
      { name: "wb", type: "array<f32>", access: "read" },
      { name: "dx", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: perBlock * (d.C / CB),
    body: `
  let cb = wg / ${u32(perBlock)};
  let q = (wg % ${u32(perBlock)}) * WORKGROUP_SIZE + lidx;
  if (q >= ${u32(positions)}) { return; }
  let ix = q % ${u32(d.W)};
  let iy = (q / ${u32(d.W)}) % ${u32(d.H)};
  let b = q / ${u32(d.H * d.W)};
  let iyp = i32(iy) + ${d.PH};
  let ixp = i32(ix) + ${d.PW};
${unroll(CB, (k) => `  var acc${k} = 0.0;`)}
  for (var o = 0u; o < ${u32(d.O)}; o++) {
    let dyplane = (b * ${u32(d.O)} + o) * ${u32(d.OH * d.OW)};
    let wplane = (o * ${u32(d.C)} + cb * ${u32(CB)}) * ${u32(d.KK)};
    for (var ky = 0u; ky < ${u32(d.KH)}; ky++) {${tap("y", d.SH, d.OH)}
      for (var kx = 0u; kx < ${u32(d.KW)}; kx++) {${tap("x", d.SW, d.OW)}
        let g = dy[dyplane + oy * ${u32(d.OW)} + ox];
        let widx = wplane + ky * ${u32(d.KW)} + kx;
${unroll(CB, (k) => `        acc${k} += g * wb[widx + ${u32(k * d.KK)}];`)}
      }
    }
  }
  let xbase = ((b * ${u32(d.C)} + cb * ${u32(CB)}) * ${u32(d.H)} + iy) * ${u32(d.W)} + ix;
${unroll(CB, (k) => `  dx[xbase + ${u32(k * d.H * d.W)}] = acc${k};`)}`,
  };
}

/**
 * Backward to weight and bias, first stage: one row of partial sums per image,
 * `partial[b, o*C*KH*KW + j] = Σ_{oy,ox} dy[b,o,oy,ox] · x[b, c, oy*SH+ky-PH, ox*SW+kx-PW]`
 * (j = (c, ky, kx)) and `partial[b, O*C*KH*KW + o] = Σ_{oy,ox} dy[b,o,oy,ox]`.
 * Bindings: x, dy, partial. Then `sumRows(B, O*C*KH*KW + O)` gives the gradient segment.
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
export function conv2dBackwardWeight(s: Conv2dShape): KernelSpec {
  const d = dims(s);
  const OB = blockSize(d.O, MAX_BLOCK);
  const columns = d.CKK + 1; // the last column is the bias
  const perImage = ceilDiv(columns, 32);
  const blocks = d.O / OB;
  const row = d.O * d.CKK + d.O;
  return {
    key: key("conv2d_backward_weight", s),
    bindings: [
      { name: "x", type: "array<f32>", access: "read" },
      { name: "dy", type: "array<f32>", access: "read" },
      { name: "partial", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: 32,
    workgroupCount: d.B * blocks * perImage,
    body: `
  let b = wg / ${u32(blocks * perImage)};
  let ob = (wg / ${u32(perImage)}) % ${u32(blocks)};
  let j = (wg % ${u32(perImage)}) * WORKGROUP_SIZE + lidx;
  if (j >= ${u32(columns)}) { return; }
  let dybase = (b * ${u32(d.O)} + ob * ${u32(OB)}) * ${u32(d.OH * d.OW)};
  let prow = b * ${u32(row)};
${unroll(OB, (k) => `  var acc${k} = 0.0;`)}
  if (j == ${u32(d.CKK)}) {
    for (var p = 0u; p < ${u32(d.OH * d.OW)}; p++) {
${unroll(OB, (k) => `      acc${k} += dy[dybase + p + ${u32(k * d.OH * d.OW)}];`)}
    }
${
      unroll(OB, (k) =>
        `    partial[prow + ${u32(d.O * d.CKK)} + ob * ${u32(OB)} + ${u32(k)}] = acc${k};`)
    }
    return;
  }
  let c = j / ${u32(d.KK)};
  let ky = (j / ${u32(d.KW)}) % ${u32(d.KH)};
  let kx = j % ${u32(d.KW)};
  let xplane = (b * ${u32(d.C)} + c) * ${u32(d.H * d.W)};
  for (var oy = 0u; oy < ${u32(d.OH)}; oy++) {
    let iy = i32(oy * ${u32(d.SH)} + ky) - ${d.PH};
    if (iy < 0 || iy >= ${d.H}) { continue; }
    for (var ox = 0u; ox < ${u32(d.OW)}; ox++) {
      let ix = i32(ox * ${u32(d.SW)} + kx) - ${d.PW};
      if (ix < 0 || ix >= ${d.W}) { continue; }
      let xv = x[xplane + u32(iy) * ${u32(d.W)} + u32(ix)];
      let p = dybase + oy * ${u32(d.OW)} + ox;
${unroll(OB, (k) => `      acc${k} += xv * dy[p + ${u32(k * d.OH * d.OW)}];`)}
    }
  }
${
      unroll(OB, (k) =>
        `  partial[prow + (ob * ${u32(OB)} + ${u32(k)}) * ${u32(d.CKK)} + j] = acc${k};`)
    }`,
  };
}
