/**
 * Batch assembly on the device: picks images of the resident dataset in the order given,
 * scales bytes to [0, 1] (`ToTensor()`), optionally resizes bilinearly (half-pixel centres,
 * PyTorch's `interpolate(align_corners=False)`), and writes the labels as u32.
 *
 * Shapes:
 *   images [N·SH·SW bytes, packed 4 per u32], labels [N bytes, packed], order [N] (u32)
 *   window (uniform u32): index in `order` of the batch's first image
 *   x [B, 1, DH, DW] (f32), y [B] (u32)
 *
 * @module
 */
import { type Binding, ceilDiv, f32, type KernelSpec, u32 } from "./spec.ts";

/** Shape of a batch gather. */
export interface GatherShape {
  /** Images in the batch. */
  batch: number;
  /** Stored image height. */
  srcHeight: number;
  /** Stored image width. */
  srcWidth: number;
  /** Output height (resize when different from srcHeight). */
  dstHeight: number;
  /** Output width. */
  dstWidth: number;
}

const WG = 64;

/**
 * Gathers one batch. Bindings: images, labels, order, window (uniform u32), x, y.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gatherBatch } from "./batch.ts";
 * const k = gatherBatch({ batch: 256, srcHeight: 28, srcWidth: 28, dstHeight: 28, dstWidth: 28 });
 * assert.deepEqual(k.bindings.map((b) => b.name), ["images", "labels", "order", "window", "x", "y"]);
 * ```
 */
export function gatherBatch(s: GatherShape): KernelSpec {
  const SP = s.srcHeight * s.srcWidth, DP = s.dstHeight * s.dstWidth;
  const n = s.batch * DP;
  const resize = s.srcHeight !== s.dstHeight || s.srcWidth !== s.dstWidth;
  if (!resize && SP % 4 === 0) return copyWords(s.batch, SP);
  const pixel = resize
    ? `
  let dy = p / ${u32(s.dstWidth)};
  let dx = p % ${u32(s.dstWidth)};
  let sy = max((f32(dy) + 0.5) * ${f32(s.srcHeight / s.dstHeight)} - 0.5, 0.0);
  let sx = max((f32(dx) + 0.5) * ${f32(s.srcWidth / s.dstWidth)} - 0.5, 0.0);
  let y0 = min(u32(sy), ${u32(s.srcHeight - 1)});
  let x0 = min(u32(sx), ${u32(s.srcWidth - 1)});
  let y1 = min(y0 + 1u, ${u32(s.srcHeight - 1)});
  let x1 = min(x0 + 1u, ${u32(s.srcWidth - 1)});
  let wy = sy - f32(y0);
  let wx = sx - f32(x0);
  let top = mix(byteAt(base + y0 * ${u32(s.srcWidth)} + x0), byteAt(base + y0 * ${
      u32(s.srcWidth)
    } + x1), wx);
  let bottom = mix(byteAt(base + y1 * ${u32(s.srcWidth)} + x0), byteAt(base + y1 * ${
      u32(s.srcWidth)
    } + x1), wx);
  x[i] = mix(top, bottom, wy) / 255.0;`
    : `
  x[i] = byteAt(base + p) / 255.0;`;
  return {
    name: `gather_batch ${s.srcHeight}x${s.srcWidth}→${s.dstHeight}x${s.dstWidth}`,
    helpers: `
fn byteAt(at: u32) -> f32 {
  return f32((images[at / 4u] >> ((at % 4u) * 8u)) & 255u);
}`,
    bindings: gatherBindings("array<f32>"),
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    body: `
${itemOf(n, DP)}
  let base = item * ${u32(SP)};${pixel}`,
  };
}

/**
 * The copy without resizing when an image is a whole number of 4-byte words (28×28): one
 * invocation per word converts its 4 pixels, a quarter of the loads and stores of one per pixel.
 */
function copyWords(batch: number, SP: number): KernelSpec {
  const words = SP / 4, n = batch * words;
  return {
    name: `gather_batch copy of ${SP} bytes by words`,
    bindings: gatherBindings("array<vec4f>"),
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    body: `
${itemOf(n, words)}
  let w = images[item * ${u32(words)} + p];
  x[i] = vec4f(f32(w & 255u), f32((w >> 8u) & 255u), f32((w >> 16u) & 255u), f32(w >> 24u)) / 255.0;`,
  };
}

/** The gather's bindings, x typed as `x` (one pixel or four a slot). */
function gatherBindings(x: string): Binding[] {
  return [
    { name: "images", type: "array<u32>", access: "read" },
    { name: "labels", type: "array<u32>", access: "read" },
    { name: "order", type: "array<u32>", access: "read" },
    { name: "window", type: "u32", access: "uniform" },
    { name: "x", type: x, access: "read_write" },
    { name: "y", type: "array<u32>", access: "read_write" },
  ];
}

/** WGSL: invocation i of n covers slot p of image b (`perImage` slots), the dataset's `item`;
 * the first slot of each image also writes its label. */
function itemOf(n: number, perImage: number): string {
  return `  if (i >= ${u32(n)}) { return; }
  let b = i / ${u32(perImage)};
  let p = i % ${u32(perImage)};
  let item = order[window + b];
  if (p == 0u) { y[b] = (labels[item / 4u] >> ((item % 4u) * 8u)) & 255u; }`;
}
