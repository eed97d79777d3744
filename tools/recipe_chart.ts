// Draws runs' accuracy per epoch in one chart, e.g. both recipes (docs/recipes.svg):
//
//   deno run --allow-read --allow-write tools/recipe_chart.ts docs/recipes.svg \
//     "reference=runs/ref" "modern=runs/modern"
//
// Each run folder's metrics.jsonl gives a curve: validation accuracy where the run held images
// out, else test accuracy; a run's selection.json (the test accuracy measured once, on the best
// validation epoch) is marked with a dot and its value.
import { writeAtomic } from "../deno/files.ts";

const [out, ...runs] = Deno.args;
if (!out || !runs.length) {
  console.error("usage: tools/recipe_chart.ts OUT.svg LABEL=RUN_DIR...");
  Deno.exit(2);
}
const colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];
const W = 720, H = 400, L = 60, R = 20, T = 30, B = 50;
const curves = await Promise.all(runs.map(async (arg) => {
  const [label, dir] = arg.split("=");
  const epochs = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n")
    .map((l) => JSON.parse(l));
  const selection = await Deno.readTextFile(`${dir}/selection.json`).then(JSON.parse, () => null);
  const validated = epochs.some((e) => e.val_accuracy !== undefined);
  const points = epochs.map((e) => [e.epoch, validated ? e.val_accuracy : e.test_accuracy]);
  return { label: `${label} (${validated ? "validation" : "test"})`, points, selection };
}));
const maxEpoch = Math.max(...curves.flatMap((c) => c.points.map((p) => p[0])));
const x = (e: number) => L + (W - L - R) * (e / maxEpoch);
const lo = 0.5, hi = 0.95;
const y = (a: number) => T + (H - T - B) * (1 - (Math.min(Math.max(a, lo), hi) - lo) / (hi - lo));
const parts: string[] = [];
for (let a = 0.5; a <= 0.951; a += 0.05) {
  parts.push(
    `<line x1="${L}" x2="${W - R}" y1="${y(a)}" y2="${y(a)}" stroke="#eee"/>`,
    `<text x="${L - 6}" y="${y(a) + 4}" text-anchor="end" font-size="11">${a.toFixed(2)}</text>`,
  );
}
for (let e = 0; e <= maxEpoch; e += 5) {
  parts.push(`<text x="${x(e)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${e}</text>`);
}
parts.push(
  `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle" font-size="12">epoch</text>`,
  `<text x="${
    W / 2
  }" y="18" text-anchor="middle" font-size="14">LeNet-5 on Fashion-MNIST: accuracy per epoch</text>`,
);
curves.forEach((c, k) => {
  const color = colors[k % colors.length];
  const d = c.points.map(([e, a], i) => `${i ? "L" : "M"}${x(e).toFixed(1)},${y(a).toFixed(1)}`);
  parts.push(`<path d="${d.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`);
  parts.push(
    `<text x="${L + 10}" y="${T + 20 + 18 * k}" font-size="12" fill="${color}">${c.label}</text>`,
  );
  if (c.selection) {
    const sx = x(c.selection.selected_epoch), sy = y(c.selection.test_accuracy);
    parts.push(
      `<circle cx="${sx}" cy="${sy}" r="5" fill="${color}"/>`,
      `<text x="${sx - 8}" y="${
        sy + 18 + 16 * k
      }" text-anchor="end" font-size="12" fill="${color}">test ${
        c.selection.test_accuracy.toFixed(4)
      } (epoch ${c.selection.selected_epoch})</text>`,
    );
  }
});
await writeAtomic(
  out,
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${
    parts.join("")
  }</svg>\n`,
);
console.log(`${out}: ${curves.length} runs`);
