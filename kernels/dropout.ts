/**
 * Dropout, PyTorch's semantics: in training each value is zeroed with probability p and the rest
 * are scaled by 1/(1 - p); in evaluation it is the identity (a copy).
 *
 * The mask is not stored: element i of the layer at `position` keeps its value when
 * hash(seed, step, position, i) ≥ p·2³², a counter-based draw (PCG's output hash, Jarzynski &
 * Olano 2020) from the uniform `noise = [seed, step, 0, 0]` the trainer writes before each step.
 * The backward draws the same bits, so it needs no mask buffer, and a resumed run (same seed,
 * same step numbers) drops exactly what the uninterrupted run would have.
 *
 * Shapes: x, y, dy, dx all [n]; noise a uniform vec4<u32>.
 *
 * @module
 */
import { ceilDiv, f32, type KernelSpec, u32 } from "./spec.ts";

const WG = 256;

const HASH = `
struct Noise { seed: u32, step: u32, unused0: u32, unused1: u32 }
fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}`;

/** p·2³² as the u32 threshold a draw must reach to keep its value (p < 1). */
function threshold(p: number): number {
  return Math.min(Math.round(p * 2 ** 32), 2 ** 32 - 1);
}

function dropout(
  direction: "forward" | "backward",
  n: number,
  p: number,
  position: number,
): KernelSpec {
  if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: p must be in [0, 1), got ${p}`);
  const [input, output] = direction === "forward" ? ["x", "y"] : ["dy", "dx"];
  return {
    name: `dropout_${direction} ${n} p ${p} at ${position}`,
    bindings: [
      { name: input, type: "array<f32>", access: "read" },
      { name: "noise", type: "Noise", access: "uniform" },
      { name: output, type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    helpers: HASH,
    body: `
  if (i >= ${u32(n)}) { return; }
  let draw = pcg_hash(i ^ pcg_hash(noise.step ^ pcg_hash(noise.seed ^ pcg_hash(${u32(position)}))));
  ${output}[i] = select(0.0, ${input}[i] * ${f32(1 / (1 - p))}, draw >= ${u32(threshold(p))});`,
  };
}

/**
 * Training's forward: y = x·mask/(1 - p). Bindings: x, noise, y.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dropoutForward } from "./dropout.ts";
 * const k = dropoutForward(1000, 0.3, 4);
 * assert.deepEqual(k.bindings.map((b) => b.name), ["x", "noise", "y"]);
 * assert.throws(() => dropoutForward(1000, 1, 4), /p must be in \[0, 1\)/);
 * ```
 */
export function dropoutForward(n: number, p: number, position: number): KernelSpec {
  return dropout("forward", n, p, position);
}

/**
 * Training's backward: dx = dy·mask/(1 - p), the forward's mask drawn again. Bindings: dy,
 * noise, dx.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dropoutBackward } from "./dropout.ts";
 * assert.deepEqual(dropoutBackward(1000, 0.3, 4).bindings.map((b) => b.name), ["dy", "noise", "dx"]);
 * ```
 */
export function dropoutBackward(n: number, p: number, position: number): KernelSpec {
  return dropout("backward", n, p, position);
}

/**
 * y = x, for evaluation (and its backward, dx = dy). Bindings: x, y.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { copy } from "./dropout.ts";
 * assert.equal(copy(1000).workgroupCount, 4);
 * ```
 */
export function copy(n: number): KernelSpec {
  return {
    name: `copy ${n}`,
    bindings: [
      { name: "x", type: "array<f32>", access: "read" },
      { name: "y", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: ceilDiv(n, WG),
    body: `
  if (i >= ${u32(n)}) { return; }
  y[i] = x[i];`,
  };
}
