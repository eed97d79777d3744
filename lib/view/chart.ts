/**
 * The training chart as a standalone SVG: the logged mini-batch loss against steps (left axis),
 * and the test accuracy at each epoch's end (right axis), like the reference's matplotlib plot.
 * Pure string building, so it renders in a browser or a notebook too.
 *
 * @module
 */
import { escapeXml } from "./_xml.ts";
/** What to draw. */
export interface ChartData {
  /** Logged losses (the trainer's `LossPoint`s). */
  losses: readonly { step: number; loss: number }[];
  /** Epoch summaries (the trainer's `EpochMetrics`): accuracy drawn at `epoch * stepsPerEpoch`. */
  epochs: readonly { epoch: number; test_accuracy: number; val_accuracy?: number }[];
  /** Steps per epoch, to place the epoch ends on the step axis. */
  stepsPerEpoch: number;
  /** Title; default "LeNet-5 on Fashion-MNIST". */
  title?: string;
}

const W = 720, H = 420, L = 70, R = 70, T = 50, B = 60;

/** A round tick spacing for `range`; any range that is not a positive finite number gets 1. */
function niceStep(range: number, ticks: number): number {
  if (!(range > 0 && Number.isFinite(range))) return 1;
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/**
 * Renders the chart.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lossChartSvg } from "./chart.ts";
 * const svg = lossChartSvg({ losses: [{ step: 100, loss: 2.1 }, { step: 200, loss: 1.2 }], epochs: [], stepsPerEpoch: 235 });
 * assert.ok(svg.startsWith("<svg") && svg.includes("</svg>"));
 * ```
 */
export function lossChartSvg(data: ChartData): string {
  const largest = (values: number[]) => values.reduce((a, b) => (b > a ? b : a), 0);
  const steps = data.losses.map((p) => p.step).filter(Number.isFinite);
  const maxStep = Math.max(1, largest(steps), data.epochs.length * data.stepsPerEpoch || 0);
  // An all-zero (or empty) curve still gets an axis from 0 to 1.
  const topLoss = largest(data.losses.map((p) => p.loss).filter(Number.isFinite));
  const maxLoss = topLoss > 0 ? topLoss * 1.05 : 1;
  const x = (step: number) => L + (step / maxStep) * (W - L - R);
  const yLoss = (v: number) => H - B - (v / maxLoss) * (H - T - B);
  const yAcc = (v: number) => H - B - v * (H - T - B);
  const parts: string[] = [];
  const text = (px: number, py: number, s: string, extra = "") =>
    parts.push(`<text x="${px.toFixed(1)}" y="${py.toFixed(1)}" ${extra}>${escapeXml(s)}</text>`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  text(
    W / 2,
    28,
    data.title ?? "LeNet-5 on Fashion-MNIST",
    `text-anchor="middle" font-size="18" font-weight="bold"`,
  );
  // grid and axes
  const stepTick = niceStep(maxStep, 8);
  for (let s = 0; s <= maxStep + 1e-9; s += stepTick) {
    parts.push(`<line x1="${x(s)}" y1="${T}" x2="${x(s)}" y2="${H - B}" stroke="#eee"/>`);
    text(x(s), H - B + 18, String(Math.round(s)), `text-anchor="middle" font-size="12"`);
  }
  const lossTick = niceStep(maxLoss, 6);
  for (let v = 0; v <= maxLoss + 1e-9; v += lossTick) {
    parts.push(`<line x1="${L}" y1="${yLoss(v)}" x2="${W - R}" y2="${yLoss(v)}" stroke="#eee"/>`);
    text(
      L - 8,
      yLoss(v) + 4,
      v.toFixed(lossTick < 0.1 ? 2 : 1),
      `text-anchor="end" font-size="12" fill="#1f77b4"`,
    );
  }
  for (let a = 0; a <= 1.0001; a += 0.2) {
    text(W - R + 8, yAcc(a) + 4, a.toFixed(1), `font-size="12" fill="#d62728"`);
  }
  parts.push(
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${
      H - T - B
    }" fill="none" stroke="#333"/>`,
  );
  text(W / 2, H - 18, "training step (batches)", `text-anchor="middle" font-size="14"`);
  text(
    18,
    H / 2,
    "mini-batch loss (mean since last point)",
    `text-anchor="middle" font-size="14" fill="#1f77b4" transform="rotate(-90 18 ${H / 2})"`,
  );
  text(
    W - 14,
    H / 2,
    "test accuracy",
    `text-anchor="middle" font-size="14" fill="#d62728" transform="rotate(90 ${W - 14} ${H / 2})"`,
  );
  if (data.losses.length) {
    const d = data.losses.map((p, i) =>
      `${i ? "L" : "M"}${x(p.step).toFixed(1)},${yLoss(p.loss).toFixed(1)}`
    );
    parts.push(`<path d="${d.join(" ")}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
  }
  // Test accuracy (red, dashed) and, when the run holds out a validation split, its accuracy
  // (green): each point at its epoch's end.
  const series = [
    { name: "test accuracy", color: "#d62728", dash: ' stroke-dasharray="6 4"', row: 20 },
    { name: "validation accuracy", color: "#2ca02c", dash: "", row: 38 },
  ] as const;
  for (const [k, s] of series.entries()) {
    const value = (e: ChartData["epochs"][number]) => (k ? e.val_accuracy : e.test_accuracy);
    const acc = data.epochs.filter((e) => Number.isFinite(value(e)));
    if (!acc.length) continue;
    const at = (e: ChartData["epochs"][number]) =>
      `${x(e.epoch * data.stepsPerEpoch).toFixed(1)},${yAcc(value(e)!).toFixed(1)}`;
    const d = acc.map((e, i) => `${i ? "L" : "M"}${at(e)}`);
    parts.push(
      `<path d="${d.join(" ")}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash}/>`,
    );
    for (const e of acc) {
      const [cx, cy] = at(e).split(",");
      parts.push(`<circle cx="${cx}" cy="${cy}" r="4" fill="${s.color}"/>`);
    }
    const last = acc[acc.length - 1];
    text(
      W - R - 8,
      T + s.row,
      `${s.name} ${value(last)!.toFixed(4)} after epoch ${last.epoch}`,
      `text-anchor="end" font-size="13" fill="${s.color}"`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n${
    parts.join("\n")
  }\n</svg>\n`;
}
