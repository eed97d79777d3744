/**
 * HTML views for notebooks and pages: the model, the training history and an evaluation result answer
 * `[Symbol.for("Jupyter.display")]()` with `text/plain` and HTML (with SVG inside), which the
 * Deno Jupyter kernel shows when a cell ends with them. Plain strings, so the same HTML serves a
 * web page. No Deno API is needed: the kernel looks the symbol up.
 *
 * @module
 */
import { escapeXml } from "./_xml.ts";
import { lossChartSvg } from "./chart.ts";
import type { Summary } from "../nn/summary.ts";
import type { ChartData } from "./chart.ts";

/** The key the Deno Jupyter kernel calls to display an object. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display");

/** A MIME bundle: MIME type → content. */
export type MediaBundle = Record<string, string>;

/**
 * The layer table of a model summary as HTML.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summaryHtml } from "./html.ts";
 * import { summary } from "../nn/summary.ts";
 * import { lenet5 } from "../nn/lenet.ts";
 * assert.match(summaryHtml(summary(lenet5())), /<td>Conv2d<\/td><td>\[1, 6, 28, 28\]<\/td><td>156<\/td>/);
 * ```
 */
export function summaryHtml(s: Summary): string {
  const rows = s.rows.map((r) =>
    `<tr><td>${r.path}</td><td>${escapeXml(r.type)}</td><td>[${r.outputShape.join(", ")}]</td><td>${
      r.params ? r.params.toLocaleString("en-US") : "–"
    }</td></tr>`
  );
  return `<table><thead><tr><th></th><th>layer</th><th>output shape</th><th>parameters</th></tr></thead><tbody>${
    rows.join("")
  }</tbody></table><p>${s.totalParams.toLocaleString("en-US")} parameters (${
    (s.paramBytes / 1024).toFixed(0)
  } KiB), ${(s.multAdds / 1e6).toFixed(2)} M multiply-adds per image (forward)</p>`;
}

/**
 * The training curves and a per-epoch table as HTML.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyHtml } from "./html.ts";
 * const html = historyHtml([{ step: 10, loss: 2 }], [], 20);
 * assert.ok(html.includes("<svg"));
 * ```
 */
export function historyHtml(
  losses: ChartData["losses"],
  epochs: readonly {
    epoch: number;
    train_loss: number;
    test_loss: number;
    test_accuracy: number;
    images_per_second: number;
  }[],
  stepsPerEpoch: number,
): string {
  const rows = epochs.map((m) =>
    `<tr><td>${m.epoch}</td><td>${m.train_loss.toFixed(4)}</td><td>${
      m.test_loss.toFixed(4)
    }</td><td>${m.test_accuracy.toFixed(4)}</td><td>${m.images_per_second.toFixed(0)}</td></tr>`
  );
  const table = rows.length
    ? `<table><thead><tr><th>epoch</th><th>train loss</th><th>test loss</th><th>test accuracy</th><th>images/s</th></tr></thead><tbody>${
      rows.join("")
    }</tbody></table>`
    : "";
  return `<div>${lossChartSvg({ losses, epochs, stepsPerEpoch })}${table}</div>`;
}

/**
 * A grey image (bytes, row-major) as a data URL of an uncompressed BMP, for an `<img>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { greyImageUrl } from "./html.ts";
 * const url = greyImageUrl(new Uint8Array(28 * 28), 28, 28);
 * assert.ok(url.startsWith("data:image/bmp;base64,Qk"));
 * ```
 */
export function greyImageUrl(pixels: Uint8Array, width: number, height: number): string {
  const row = Math.ceil((width * 3) / 4) * 4;
  const bytes = new Uint8Array(54 + row * height);
  const view = new DataView(bytes.buffer);
  bytes.set([0x42, 0x4d]);
  view.setUint32(2, bytes.length, true);
  view.setUint32(10, 54, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, -height, true); // top-down rows
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  view.setUint32(34, row * height, true);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      bytes.fill(pixels[y * width + x], 54 + y * row + 3 * x, 54 + y * row + 3 * x + 3);
    }
  }
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `data:image/bmp;base64,${btoa(binary)}`;
}

/**
 * A grid of images with their true and predicted classes (green when right, red when wrong).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { predictionGridHtml } from "./html.ts";
 * const html = predictionGridHtml(new Uint8Array(2 * 4), 2, 2, [1, 0], [1, 1], ["a", "b"]);
 * assert.equal(html.match(/<img /g)!.length, 2);
 * assert.match(html, /color:#c00/); // the second is wrong
 * ```
 */
export function predictionGridHtml(
  images: Uint8Array,
  rows: number,
  cols: number,
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classNames: readonly string[],
): string {
  const cells = Array.from({ length: labels.length }, (_, n) => {
    const ok = labels[n] === predicted[n];
    const url = greyImageUrl(images.subarray(n * rows * cols, (n + 1) * rows * cols), cols, rows);
    return `<figure style="margin:4px;text-align:center;font:11px sans-serif"><img src="${url}" width="${
      cols * 2
    }" height="${rows * 2}" style="image-rendering:pixelated"><figcaption style="color:${
      ok ? "#070" : "#c00"
    }">${escapeXml(classNames[predicted[n]] ?? String(predicted[n]))}${
      ok ? "" : `<br><s>${escapeXml(classNames[labels[n]] ?? String(labels[n]))}</s>`
    }</figcaption></figure>`;
  });
  return `<div style="display:flex;flex-wrap:wrap">${cells.join("")}</div>`;
}
