/**
 * SVG views of an inspection (`lib/train/inspect.ts`): the input as the model saw it, its
 * saliency map, the three likeliest classes, the feature maps after each layer, and the filters;
 * and a grid of the most confident mistakes. Pictures are PNG data URLs inside the SVG: a few
 * hundred small images stay a few hundred KiB, where one rectangle a pixel would not.
 *
 * Colours: feature maps and inputs grey (black low, white high, each map scaled to its own
 * range); filters and saliency diverging around zero (blue negative, white zero, red positive).
 *
 * @module
 */
import { escapeXml } from "./_xml.ts";
import { pngDataUrl } from "./png.ts";

/** One feature map stack: a layer's output for the inspected image. */
export interface FeatureMaps {
  /** The layer(s) that wrote it, e.g. `0 Conv2d + Sigmoid` or `2 AvgPool2d`. */
  layer: string;
  /** Channels, height, width. */
  shape: readonly [number, number, number];
  /** Values, channel-major. */
  data: Float32Array;
}

/** A class and the model's probability for it. */
export interface ClassProbability {
  /** Class index. */
  label: number;
  /** Class name, when known. */
  name: string;
  /** Softmax probability. */
  probability: number;
}

/** What {@linkcode inspectionSvg} draws (an `Inspection` has all of it). */
export interface InspectionPicture {
  /** The input, `side × side` floats in [0, 1]. */
  image: Float32Array;
  /** Its side. */
  side: number;
  /** The likeliest classes. */
  top: readonly ClassProbability[];
  /** The class the saliency explains. */
  explained: ClassProbability;
  /** Filters by name, PyTorch layout [O, C, KH, KW]. */
  filters: readonly { name: string; weight: { shape: readonly number[]; data: Float32Array } }[];
  /** Feature maps. */
  featureMaps: readonly FeatureMaps[];
  /** The saliency map, `side × side`. */
  saliency: Float32Array;
}

/** Grey pixels of `values` scaled to their own range (a constant map is mid-grey). */
function grey(values: ArrayLike<number>): Uint8Array {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      lo = Math.min(lo, values[i]);
      hi = Math.max(hi, values[i]);
    }
  }
  const rgb = new Uint8Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const v = hi > lo ? Math.round((255 * (values[i] - lo)) / (hi - lo)) : 128;
    rgb.fill(Number.isFinite(values[i]) ? v : 0, 3 * i, 3 * i + 3);
  }
  return rgb;
}

/** Diverging pixels: blue below zero, white at zero, red above, scaled by the largest |v|. */
function diverging(values: ArrayLike<number>): Uint8Array {
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) m = Math.max(m, Math.abs(values[i]));
  }
  const rgb = new Uint8Array(values.length * 3);
  for (let i = 0; i < values.length; i++) {
    const t = m > 0 && Number.isFinite(values[i]) ? values[i] / m : 0;
    const fade = Math.round(255 * (1 - Math.abs(t)));
    rgb.set(t >= 0 ? [255, fade, fade] : [fade, fade, 255], 3 * i);
  }
  return rgb;
}

/** One picture at (x, y), `scale` screen pixels a pixel. */
function picture(
  rgb: Uint8Array,
  w: number,
  h: number,
  x: number,
  y: number,
  scale: number,
): string {
  return `<image x="${x}" y="${y}" width="${w * scale}" height="${h * scale}" href="${
    pngDataUrl(rgb, w, h)
  }" style="image-rendering:pixelated"/>`;
}

const text = (x: number, y: number, s: string, size = 12, weight = "normal") =>
  `<text x="${x}" y="${y}" font-family="sans-serif" font-size="${size}" font-weight="${weight}">${
    escapeXml(s)
  }</text>`;

/** A row of maps (channels of one layer), wrapped at `perRow`; returns the SVG and its height. */
function mapRow(maps: FeatureMaps, top: number, width: number): { svg: string; height: number } {
  const [c, h, w] = maps.shape;
  const scale = Math.max(1, Math.floor(56 / Math.max(h, w)));
  const cell = w * scale + 4;
  const perRow = Math.max(1, Math.floor((width - 20) / cell));
  const parts = [text(10, top + 14, `${maps.layer}: ${c}×${h}×${w}`, 12, "bold")];
  for (let k = 0; k < c; k++) {
    const plane = maps.data.subarray(k * h * w, (k + 1) * h * w);
    const x = 10 + (k % perRow) * cell, y = top + 22 + Math.floor(k / perRow) * (h * scale + 4);
    parts.push(picture(grey(plane), w, h, x, y, scale));
  }
  return { svg: parts.join(""), height: 26 + Math.ceil(c / perRow) * (h * scale + 4) };
}

/** A filter bank [O, C, KH, KW] as a grid of diverging kernels: a column per output channel. */
function filterGrid(
  name: string,
  weight: { shape: readonly number[]; data: Float32Array },
  top: number,
): { svg: string; height: number } {
  const [o, c, kh, kw] = weight.shape;
  const scale = 6, cell = kw * scale + 3;
  const title = `filters ${name}: ${o}×${c}×${kh}×${kw} (a column per output channel)`;
  const parts = [text(10, top + 14, title, 12, "bold")];
  for (let p = 0; p < o; p++) {
    for (let q = 0; q < c; q++) {
      const at = (p * c + q) * kh * kw;
      const x = 10 + p * cell, y = top + 22 + q * (kh * scale + 3);
      parts.push(picture(diverging(weight.data.subarray(at, at + kh * kw)), kw, kh, x, y, scale));
    }
  }
  return { svg: parts.join(""), height: 26 + c * (kh * scale + 3) };
}

/**
 * The inspection as one SVG: the input, the saliency map and the top 3 classes; then each layer's
 * feature maps; then the filters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inspectionSvg } from "./inspect_svg.ts";
 * const cls = { label: 1, name: "Trouser", probability: 0.9 };
 * const svg = inspectionSvg({
 *   image: new Float32Array(16), side: 4, top: [cls], explained: cls, saliency: new Float32Array(16),
 *   featureMaps: [{ layer: "0 Conv2d", shape: [2, 4, 4], data: new Float32Array(32) }],
 *   filters: [{ name: "0.weight", weight: { shape: [2, 1, 3, 3], data: new Float32Array(18) } }],
 * });
 * assert.match(svg, /^<svg /);
 * assert.equal(svg.match(/<image /g)!.length, 2 + 2 + 2);
 * assert.match(svg, /Trouser 90\.0%/);
 * ```
 */
export function inspectionSvg(result: InspectionPicture): string {
  const width = 720, side = result.side, scale = Math.max(1, Math.floor(140 / side));
  const parts: string[] = [
    text(10, 18, "input, as the model saw it", 12, "bold"),
    picture(grey(result.image), side, side, 10, 26, scale),
    text(200, 18, `saliency: ∂ logit[${result.explained.name}] / ∂ input`, 12, "bold"),
    picture(diverging(result.saliency), side, side, 200, 26, scale),
    text(470, 18, "top 3", 12, "bold"),
    ...result.top.map((c, k) => {
      const bar = Math.round(240 * c.probability);
      return `<rect x="470" y="${30 + k * 24}" width="${bar}" height="16" fill="#8c8"/>` +
        text(474, 43 + k * 24, `${c.name} ${(100 * c.probability).toFixed(1)}%`);
    }),
  ];
  let y = 36 + side * scale;
  for (const maps of result.featureMaps) {
    const row = mapRow(maps, y, width);
    parts.push(row.svg);
    y += row.height;
  }
  for (const f of result.filters) {
    const grid = filterGrid(f.name, f.weight, y);
    parts.push(grid.svg);
    y += grid.height;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${
    y + 10
  }" viewBox="0 0 ${width} ${y + 10}"><rect width="100%" height="100%" fill="white"/>${
    parts.join("")
  }</svg>`;
}

/** What {@linkcode mistakesSvg} draws (a `Mistakes` has all of it). */
export interface MistakesPicture {
  /** True, predicted and confidence of each. */
  mistakes: readonly { label: number; predicted: number; confidence: number; index: number }[];
  /** Their images, `rows × cols` bytes each. */
  images: Uint8Array;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** Class names. */
  classNames: readonly string[];
}

/**
 * The most confident mistakes as a grid: each image with its index, the predicted class and the
 * model's probability for it (red), and the true class.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mistakesSvg } from "./inspect_svg.ts";
 * const svg = mistakesSvg({
 *   mistakes: [{ index: 7, label: 0, predicted: 6, confidence: 0.97 }],
 *   images: new Uint8Array(4), rows: 2, cols: 2, classNames: ["T-shirt/top"],
 * });
 * assert.match(svg, /#7: 6 97\.0%/);
 * assert.match(svg, /true T-shirt\/top/);
 * ```
 */
export function mistakesSvg(m: MistakesPicture): string {
  const scale = 3, cellW = Math.max(m.cols * scale, 130), cellH = m.rows * scale + 34;
  const perRow = 6;
  const name = (k: number) => m.classNames[k] ?? String(k);
  const cells = m.mistakes.map((e, k) => {
    const x = 10 + (k % perRow) * (cellW + 8), y = 10 + Math.floor(k / perRow) * (cellH + 8);
    const img = m.images.subarray(k * m.rows * m.cols, (k + 1) * m.rows * m.cols);
    const rgb = new Uint8Array(img.length * 3);
    img.forEach((v, i) => rgb.fill(v, 3 * i, 3 * i + 3));
    return picture(rgb, m.cols, m.rows, x, y, scale) +
      `<text x="${x}" y="${
        y + m.rows * scale + 14
      }" font-family="sans-serif" font-size="11" fill="#c00">${
        escapeXml(`#${e.index}: ${name(e.predicted)} ${(100 * e.confidence).toFixed(1)}%`)
      }</text>` +
      `<text x="${x}" y="${y + m.rows * scale + 28}" font-family="sans-serif" font-size="11">${
        escapeXml(`true ${name(e.label)}`)
      }</text>`;
  });
  const rows = Math.max(1, Math.ceil(m.mistakes.length / perRow));
  const width = 20 + perRow * (cellW + 8), height = 20 + rows * (cellH + 8);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect width="100%" height="100%" fill="white"/>${
    cells.join("")
  }</svg>`;
}
