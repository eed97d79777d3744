/**
 * The confusion matrix as a labelled heatmap (rows: true class, columns: predicted class), a
 * standalone SVG: cell colour by the share of its row, counts written in each cell, per-class
 * accuracy at the end of each row.
 *
 * @module
 */
import { escapeXml } from "./_xml.ts";

const CELL = 52, LEFT = 130, TOP = 110, RIGHT = 90, BOTTOM = 30;

/**
 * Renders `matrix[true][predicted]` with the class names along both axes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { confusionMatrixSvg } from "./confusion_svg.ts";
 * const svg = confusionMatrixSvg([[9, 1], [2, 8]], ["cat", "dog"]);
 * assert.ok(svg.startsWith("<svg") && svg.includes(">cat</text>") && svg.includes(">80.0%</text>"));
 * ```
 */
export function confusionMatrixSvg(
  matrix: readonly (readonly number[])[],
  classNames: readonly string[],
  title = "Confusion matrix (rows: true class, columns: predicted)",
): string {
  const n = matrix.length;
  if (classNames.length !== n || matrix.some((row) => row.length !== n)) {
    throw new RangeError(`a ${n}×${n} matrix needs ${n} class names, got ${classNames.length}`);
  }
  const W = LEFT + n * CELL + RIGHT, H = TOP + n * CELL + BOTTOM;
  const parts = [`<rect width="${W}" height="${H}" fill="white"/>`];
  const text = (x: number, y: number, s: string, extra = "") =>
    parts.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${escapeXml(s)}</text>`);
  text(W / 2, 24, title, `text-anchor="middle" font-size="16" font-weight="bold"`);
  text(LEFT + (n * CELL) / 2, 46, "predicted class", `text-anchor="middle" font-size="13"`);
  text(
    18,
    TOP + (n * CELL) / 2,
    "true class",
    `text-anchor="middle" font-size="13" transform="rotate(-90 18 ${TOP + (n * CELL) / 2})"`,
  );
  text(LEFT + n * CELL + RIGHT / 2, TOP - 8, "accuracy", `text-anchor="middle" font-size="12"`);
  matrix.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0);
    const y = TOP + r * CELL;
    text(LEFT - 8, y + CELL / 2 + 4, classNames[r], `text-anchor="end" font-size="12"`);
    const cx = LEFT + r * CELL + CELL / 2;
    text(
      cx,
      TOP - 8,
      classNames[r],
      `text-anchor="start" font-size="12" transform="rotate(-40 ${cx} ${TOP - 8})"`,
    );
    row.forEach((count, c) => {
      const share = total ? count / total : 0;
      // White through blue: the diagonal dark when right, off-diagonal cells light unless confused.
      const shade = Math.round(255 - 200 * share);
      const fill = `rgb(${shade},${Math.round(255 - 140 * share)},255)`;
      const x = LEFT + c * CELL;
      parts.push(
        `<rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="${fill}" stroke="#ccc"/>`,
      );
      text(
        x + CELL / 2,
        y + CELL / 2 + 4,
        String(count),
        `text-anchor="middle" font-size="12" fill="${share > 0.5 ? "white" : "black"}"`,
      );
    });
    const accuracy = total ? `${(100 * row[r] / total).toFixed(1)}%` : "–";
    text(
      LEFT + n * CELL + RIGHT / 2,
      y + CELL / 2 + 4,
      accuracy,
      `text-anchor="middle" font-size="12"`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n${
    parts.join("\n")
  }\n</svg>\n`;
}
