/**
 * The pooling backward's kernel candidates (`kernels/pool.ts`), one line each; the rules are in
 * `choose.ts`.
 *
 * @module
 */
import {
  type Pool2dShape,
  type PoolBackwardVariant,
  windowsTileInput,
} from "../../kernels/pool.ts";
import {
  type Candidate,
  type CandidateLine,
  type Choice,
  choose,
  RULES,
  type Tuning,
} from "./choose.ts";

/** Pooling backward candidates, one line each. */
export const POOL_BACKWARD_CANDIDATES: readonly CandidateLine<PoolBackwardVariant>[] = [
  {
    name: "tiled",
    why: "windows tile the input: one invocation per window writes all its inputs",
    wins: "windows that tile the input (no gathering, no bounds arithmetic)",
    params: "tiled",
  },
  {
    name: "gather",
    why: "each input gathers from the windows covering it (one write per invocation)",
    wins: "overlapping windows, padding or a remainder: the only candidate there",
    params: "gather",
  },
];

/**
 * Pooling backward: `tiled` when windows tile the input, else `gather` (correct for any stride
 * and padding, and the only candidate then).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choosePoolBackward } from "./pool_candidates.ts";
 * import { CPU_RULES } from "./choose.ts";
 * const s = { batch: 1, channels: 6, height: 28, width: 28, kernel: [2, 2], stride: [2, 2], padding: [0, 0] } as const;
 * assert.equal(choosePoolBackward(s, "avg", CPU_RULES).variant, "tiled");
 * assert.equal(choosePoolBackward({ ...s, stride: [1, 1] }, "avg", CPU_RULES).variant, "gather");
 * ```
 */
export function choosePoolBackward(
  s: Pool2dShape,
  kind: string,
  tuning: Tuning,
): Choice<PoolBackwardVariant> {
  const tiles = windowsTileInput(s);
  const resolve = (
    line: CandidateLine<PoolBackwardVariant>,
  ): Candidate<PoolBackwardVariant> | null =>
    line.params === "tiled" && !tiles ? null : {
      variant: line.name,
      why: tiles || line.params === "tiled"
        ? line.why
        : "windows overlap or leave a remainder: each input gathers from the windows covering it",
      kernel: line.params,
      views: [],
    };
  const key = `${kind}pool2d.backward ${s.batch}x${s.channels}x${s.height}x${s.width} k${
    s.kernel.join("x")
  } s${s.stride.join("x")} p${s.padding.join("x")}`;
  return choose(key, POOL_BACKWARD_CANDIDATES, resolve, RULES.poolBackward, tuning);
}
