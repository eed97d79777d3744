/**
 * Pictures turned into inputs the way Fashion-MNIST was made from Zalando's product photos
 * (Xiao et al., 2017): grey, the object trimmed from its background, its longest edge resized to
 * 28 pixels, centred on a 28×28 square, light object on a dark ground (negated). Pure web APIs:
 * the pixels come in decoded (RGBA), from any decoder.
 *
 * @module
 */

/** Decoded pixels: `width × height` RGBA bytes, row-major. */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGBA bytes, 4 per pixel. */
  data: Uint8Array;
}

/** Options of {@linkcode toFashionInput}. */
export interface FashionInputOptions {
  /**
   * Negate the picture: `yes` for a dark object on a light ground (most photos), `no` for a light
   * object on a dark ground (Fashion-MNIST's own look), `auto` (default) to decide from the border.
   */
  invert?: "yes" | "no" | "auto";
  /** Side of the output square; default 28. */
  size?: number;
}

/** What {@linkcode toFashionInput} made, and what it decided. */
export interface FashionInput {
  /** `size × size` grey bytes, light object on dark ground. */
  pixels: Uint8Array;
  /** Side of the square. */
  size: number;
  /** Whether the picture was negated. */
  inverted: boolean;
  /** Why (for `auto`: the border's mean brightness). */
  reason: string;
}

/** Brightness below which a pixel counts as ground when trimming (after negation). */
const GROUND = 24;

/**
 * Turns a decoded picture into a Fashion-MNIST-like input. Transparent pixels are taken as
 * white (a cut-out on a light ground).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toFashionInput } from "./images.ts";
 * // A dark 2×4 bar on a white 8×8 picture: negated, trimmed, its 4-pixel side scaled to 28.
 * const data = new Uint8Array(8 * 8 * 4).fill(255);
 * for (let y = 2; y < 6; y++) for (let x = 3; x < 5; x++) data.fill(0, (y * 8 + x) * 4, (y * 8 + x) * 4 + 3);
 * const input = toFashionInput({ width: 8, height: 8, data });
 * assert.equal(input.inverted, true);
 * assert.equal(input.pixels[14 * 28 + 14], 255); // the bar, now light, fills the centre
 * assert.equal(input.pixels[14 * 28 + 2], 0); // the ground is black
 * ```
 */
export function toFashionInput(image: RgbaImage, options: FashionInputOptions = {}): FashionInput {
  const { width: W, height: H, data } = image;
  if (
    !(Number.isInteger(W) && Number.isInteger(H) && W > 0 && H > 0 && data.length === W * H * 4)
  ) {
    throw new RangeError(`an RGBA image of ${W}×${H} needs ${W * H * 4} bytes, got ${data.length}`);
  }
  const size = options.size ?? 28;
  // Grey (ITU-R 601 luma, as PIL's "L"), composited over white.
  const grey = new Float32Array(W * H);
  for (let i = 0; i < W * H; i++) {
    const a = data[4 * i + 3] / 255;
    const luma = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
    grey[i] = a * luma + (1 - a) * 255;
  }
  // The border (a frame 1/20 of the shorter side wide) tells the ground's brightness.
  const frame = Math.max(1, Math.floor(Math.min(W, H) / 20));
  const border: number[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (x < frame || y < frame || x >= W - frame || y >= H - frame) border.push(grey[y * W + x]);
    }
  }
  border.sort((a, b) => a - b);
  const median = border[border.length >> 1];
  const mode = options.invert ?? "auto";
  const inverted = mode === "yes" || (mode === "auto" && median > 127);
  const reason = mode === "auto"
    ? `the border's median brightness is ${Math.round(median)} of 255: ${
      inverted ? "a light" : "a dark"
    } ground`
    : `--invert ${mode}`;
  // Negate when asked, then take the ground level away so that the ground is black.
  const ground = inverted ? 255 - median : median;
  const scale = 255 / Math.max(1, 255 - ground);
  const v = grey.map((g) => Math.max(0, ((inverted ? 255 - g : g) - ground) * scale));
  // Trim to the object's bounding box (the whole picture when nothing stands out).
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (v[y * W + x] > GROUND) {
        x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) [x0, y0, x1, y1] = [0, 0, W - 1, H - 1];
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  // The longest edge becomes `size`, the other keeps the aspect ratio; the object is centred.
  const fit = size / Math.max(bw, bh);
  const ow = Math.max(1, Math.round(bw * fit)), oh = Math.max(1, Math.round(bh * fit));
  const ox = Math.floor((size - ow) / 2), oy = Math.floor((size - oh) / 2);
  const pixels = new Uint8Array(size * size);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      pixels[(oy + y) * size + ox + x] = Math.round(
        Math.min(255, area(v, W, x0 + (x * bw) / ow, y0 + (y * bh) / oh, bw / ow, bh / oh)),
      );
    }
  }
  return { pixels, size, inverted, reason };
}

/**
 * The mean of `v` over the source rectangle [sx, sx + w) × [sy, sy + h), each pixel weighted by
 * its overlap: a box filter that downsamples without aliasing and upsamples by replication.
 */
function area(v: Float32Array, W: number, sx: number, sy: number, w: number, h: number): number {
  let sum = 0, weight = 0;
  for (let y = Math.floor(sy); y < Math.ceil(sy + h); y++) {
    const wy = Math.min(y + 1, sy + h) - Math.max(y, sy);
    for (let x = Math.floor(sx); x < Math.ceil(sx + w); x++) {
      const wx = Math.min(x + 1, sx + w) - Math.max(x, sx);
      sum += v[y * W + x] * wx * wy;
      weight += wx * wy;
    }
  }
  return weight > 0 ? sum / weight : 0;
}

/**
 * Grey bytes (`rows × cols`) as the model's input: scaled to [0, 1] and, when `side` differs,
 * resized bilinearly with half-pixel centres and clamped edges, as the device gather does
 * (PyTorch's `interpolate(mode="bilinear", align_corners=False)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { modelInput } from "./images.ts";
 * assert.deepEqual([...modelInput(Uint8Array.of(0, 255, 255, 0), 2, 2, 2)], [0, 1, 1, 0]);
 * assert.equal(modelInput(new Uint8Array(784), 28, 28, 32).length, 32 * 32);
 * ```
 */
export function modelInput(
  pixels: Uint8Array,
  rows: number,
  cols: number,
  side: number,
): Float32Array {
  const axis = (src: number, d: number) => {
    const at = Math.max((d + 0.5) * (src / side) - 0.5, 0);
    const lo = Math.min(Math.floor(at), src - 1);
    return [lo, Math.min(lo + 1, src - 1), at - lo];
  };
  const out = new Float32Array(side * side);
  const px = (y: number, x: number) => pixels[y * cols + x];
  for (let y = 0; y < side; y++) {
    const [y0, y1, wy] = axis(rows, y);
    for (let x = 0; x < side; x++) {
      const [x0, x1, wx] = axis(cols, x);
      const top = px(y0, x0) + (px(y0, x1) - px(y0, x0)) * wx;
      const bottom = px(y1, x0) + (px(y1, x1) - px(y1, x0)) * wx;
      out[y * side + x] = (top + (bottom - top) * wy) / 255;
    }
  }
  return out;
}
