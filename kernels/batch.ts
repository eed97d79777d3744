/**
 * Batch assembly on the device: picks images of the resident dataset in the order given,
 * scales bytes to [0, 1] (`ToTensor()`), optionally resizes bilinearly (half-pixel centres,
 * PyTorch's `interpolate(align_corners=False)`), and writes the labels as u32.
 *
 * Shapes:
 *   images [N·SH·SW bytes, packed 4 per u32], labels [N bytes, packed], order [N] (u32)
 *   window (uniform u32): index in `order` of the batch's first image (with augmentation a
 *     vec4u: .x that index, .z the global step)
 *   x [B, 1, DH, DW] (f32), y [B] (u32)
 *
 * With `augment` (training), each image is transformed as torchvision's
 * `RandomCrop(size, padding)` → `RandomHorizontalFlip()` → `ToTensor()` → erasing would do:
 *   out(y, x) = img(y + dy, (flip ? W−1−x : x) + dx) / 255, 0 outside the image,
 *   then 0 inside the erased rectangle (if drawn).
 * Its random numbers come from a counter-based hash of (seed, step, image): no state to carry,
 * so a resumed run draws exactly what the uninterrupted one would (`augmentDraws` gives them).
 *
 * @module
 */
import { allOf, type Binding, ceilDiv, f32, type KernelSpec, u32 } from "./spec.ts";

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

/** Data augmentation inside the gather (training only, images of the stored size). */
export interface Augment {
  /** Seed of the draws. */
  seed: number;
  /** Random crop after zero padding by this many pixels (0: none). */
  cropPadding: number;
  /** Random horizontal flip (probability 0.5). */
  flip: boolean;
  /** Random erasing: with probability `p`, a rectangle of sides from `min` to `max` set to 0. */
  erase?: { p: number; min: number; max: number };
}

/** WGSL's (and {@linkcode hash32}'s) integer hash: PCG's output permutation of an LCG step. */
const HASH_WGSL = `
fn hash32(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}`;

/**
 * The gather's hash, on the CPU: the same 32-bit arithmetic as the WGSL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hash32 } from "./batch.ts";
 * assert.equal(hash32(0), hash32(0));
 * assert.notEqual(hash32(1), hash32(2));
 * ```
 */
export function hash32(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** One image's draws: the crop's offsets, whether it is flipped, the erased rectangle if any. */
export interface AugmentDraws {
  /** Horizontal offset of the crop, −padding to padding. */
  dx: number;
  /** Vertical offset of the crop. */
  dy: number;
  /** Flipped horizontally. */
  flip: boolean;
  /** The rectangle set to 0, in output pixels. */
  erase?: { x: number; y: number; w: number; h: number };
}

/**
 * The random draws of image `b` of the batch at global step `step`: crop offsets, flip, and the
 * erased rectangle (or none) — what the gather computes on the device, for CPU references.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { augmentDraws } from "./batch.ts";
 * const a = { seed: 0, cropPadding: 2, flip: true, erase: { p: 0.5, min: 4, max: 12 } };
 * const d = augmentDraws(a, 28, 28, 7, 3);
 * assert.ok(Math.abs(d.dx) <= 2 && Math.abs(d.dy) <= 2);
 * assert.deepEqual(augmentDraws(a, 28, 28, 7, 3), d); // a function of (seed, step, image)
 * ```
 */
export function augmentDraws(
  a: Augment,
  rows: number,
  cols: number,
  step: number,
  b: number,
): AugmentDraws {
  const key = hash32(hash32(a.seed) ^ step);
  const r = (k: number) => hash32(key ^ hash32(b * 8 + k));
  const span = 2 * a.cropPadding + 1;
  const erase = a.erase && (r(3) % 1000) < Math.round(a.erase.p * 1000)
    ? (() => {
      const sides = a.erase!.max - a.erase!.min + 1;
      const w = a.erase!.min + (r(4) % sides), h = a.erase!.min + ((r(4) >>> 8) % sides);
      return { x: r(5) % (cols - w + 1), y: r(6) % (rows - h + 1), w, h };
    })()
    : undefined;
  return {
    dx: (r(0) % span) - a.cropPadding,
    dy: (r(1) % span) - a.cropPadding,
    flip: a.flip && (r(2) & 1) === 1,
    erase,
  };
}

/** The augmenting gather's per-pixel code: the draws, then the transformed pixel. */
function augmentPixel(a: Augment, rows: number, cols: number): string {
  const span = 2 * a.cropPadding + 1;
  const r = (k: number) => `hash32(key ^ hash32(b * 8u + ${k}u))`;
  const erase = a.erase
    ? (() => {
      const sides = a.erase.max - a.erase.min + 1;
      return `
  let erasing = (${r(3)} % 1000u) < ${u32(Math.round(a.erase.p * 1000))};
  let ew = ${u32(a.erase.min)} + ${r(4)} % ${u32(sides)};
  let eh = ${u32(a.erase.min)} + (${r(4)} >> 8u) % ${u32(sides)};
  let ex = ${r(5)} % (${u32(cols + 1)} - ew);
  let ey = ${r(6)} % (${u32(rows + 1)} - eh);
  let erased = ${allOf("erasing", "ox >= ex", "ox < ex + ew", "oy >= ey", "oy < ey + eh")};`;
    })()
    : `
  let erased = false;`;
  return `
  let key = hash32(hash32(${u32(a.seed >>> 0)}) ^ window.z);
  let oy = p / ${u32(cols)};
  let ox = p % ${u32(cols)};
  let dx = i32(${r(0)} % ${u32(span)}) - ${a.cropPadding};
  let dy = i32(${r(1)} % ${u32(span)}) - ${a.cropPadding};
  let flip = ${a.flip ? `(${r(2)} & 1u) == 1u` : "false"};
  let sx = i32(select(ox, ${u32(cols - 1)} - ox, flip)) + dx;
  let sy = i32(oy) + dy;
  let inside = ${allOf("sx >= 0", `sx < ${cols}`, "sy >= 0", `sy < ${rows}`)};${erase}
  let v = select(0.0, byteAt(base + u32(clamp(sy, 0, ${rows - 1})) * ${
    u32(cols)
  } + u32(clamp(sx, 0, ${cols - 1}))), ${allOf("inside", "!erased")});
  x[i] = v / 255.0;`;
}

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
export function gatherBatch(s: GatherShape, augment?: Augment): KernelSpec {
  const SP = s.srcHeight * s.srcWidth, DP = s.dstHeight * s.dstWidth;
  const n = s.batch * DP;
  const resize = s.srcHeight !== s.dstHeight || s.srcWidth !== s.dstWidth;
  if (augment) return augmentingGather(s, augment);
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

/** The gather with augmentation (no resizing): one invocation per output pixel. */
function augmentingGather(s: GatherShape, a: Augment): KernelSpec {
  if (s.srcHeight !== s.dstHeight || s.srcWidth !== s.dstWidth) {
    throw new RangeError("augmentation works on images of the stored size (no resizing)");
  }
  const rows = s.srcHeight, cols = s.srcWidth, DP = rows * cols, n = s.batch * DP;
  const bindings = gatherBindings("array<f32>");
  bindings[3] = { name: "window", type: "vec4<u32>", access: "uniform" };
  return {
    name: `gather_batch ${rows}x${cols} augmented (crop ${a.cropPadding}${a.flip ? ", flip" : ""}${
      a.erase ? `, erase ${a.erase.p} ${a.erase.min}..${a.erase.max}` : ""
    })`,
    helpers: `${HASH_WGSL}
fn byteAt(at: u32) -> f32 {
  return f32((images[at / 4u] >> ((at % 4u) * 8u)) & 255u);
}`,
    bindings,
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    body: `
${itemOf(n, DP, "window.x")}
  let base = item * ${u32(DP)};
  // The image's draws: hashes of (seed, step, image b, draw k).${augmentPixel(a, rows, cols)}`,
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
function itemOf(n: number, perImage: number, start = "window"): string {
  return `  if (i >= ${u32(n)}) { return; }
  let b = i / ${u32(perImage)};
  let p = i % ${u32(perImage)};
  let item = order[${start} + b];
  if (p == 0u) { y[b] = (labels[item / 4u] >> ((item % 4u) * 8u)) & 255u; }`;
}
