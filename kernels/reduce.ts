/**
 * Column sums: `out[outOffset + c] = Σ_r x[r, c]` for x [R, Cols]. Used for bias gradients
 * (`Σ_b dy[b, :]`) and to add the per-image partial gradients of a convolution.
 *
 * @module
 */
import { ceilDiv, type KernelSpec, u32 } from "./spec.ts";

const WG = 64;

/**
 * Sums the rows of x [rows, cols] into out[outOffset .. outOffset + cols). Bindings: x, out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sumRows } from "./reduce.ts";
 * const k = sumRows(256, 120, 120 * 400); // bias gradient of Linear(400 → 120)
 * assert.equal(k.workgroupCount * k.workgroupSize >= 120, true);
 * ```
 */
export function sumRows(rows: number, cols: number, outOffset = 0): KernelSpec {
  return {
    name: `sum_rows ${rows}x${cols}`,
    bindings: [
      { name: "x", type: "array<f32>", access: "read" },
      { name: "out", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(cols, WG),
    body: `
  if (i >= ${u32(cols)}) { return; }
  var acc = 0.0;
  for (var r = 0u; r < ${u32(rows)}; r++) { acc += x[r * ${u32(cols)} + i]; }
  out[${u32(outOffset)} + i] = acc;`,
  };
}
