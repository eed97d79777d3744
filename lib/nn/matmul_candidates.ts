/**
 * The matmul's kernel candidates (`kernels/linear.ts`; Linear's three products), one line each;
 * the rules are in `choose.ts`.
 *
 * @module
 */
import { type MatmulShape, matmulUniformPlan, matmulViewPlans } from "../../kernels/linear.ts";
import { blockSize } from "../../kernels/spec.ts";
import { type ChunkPlan, UNIFORM_BINDING_FLOATS } from "../../kernels/views.ts";
import {
  type Candidate,
  type CandidateLine,
  type Choice,
  choose,
  RULES,
  type Tuning,
} from "./choose.ts";

/**
 * Most columns of a `1xN` uniform-B tile. A divisor of the column count wins (no guarded edge)
 * when it is at least {@linkcode MIN_EXACT_MATMUL_TILE}; otherwise a 16-wide tile with a guard.
 */
export const MAX_MATMUL_TILE = 20;
/** See {@linkcode MAX_MATMUL_TILE}. */
export const MIN_EXACT_MATMUL_TILE = 8;
/** The guarded tile width used when no good divisor exists. */
export const GUARDED_MATMUL_TILE = 16;

/** A matmul line's parameters: what goes through uniform views, and the register tile. */
export interface MatmulLine {
  /** B through views; A and B through views; or everything from storage. */
  readonly read: "uniform B" | "uniform A, B" | "storage";
  /** Rows of C per invocation. */
  readonly tileM: number;
  /** Columns of C per invocation (capped by the columns there are); `N` in the 1×N line. */
  readonly tileN: number | "N";
}

/** Matmul candidates, one line each. */
export const MATMUL_CANDIDATES: readonly CandidateLine<MatmulLine>[] = [
  {
    name: "uniform-B 4x8",
    why: "each A value loaded from storage feeds 8 multiply-adds, each B value 4",
    wins: "lavapipe, llvmpipe: the CPU rule",
    params: { read: "uniform B", tileM: 4, tileN: 8 },
  },
  {
    name: "uniform-B 2x16",
    why: "wider rows of C for the same 32 accumulators",
    wins: "when M is under 4",
    params: { read: "uniform B", tileM: 2, tileN: 16 },
  },
  {
    name: "uniform-B 1xN",
    why: `one row of C, up to ${MAX_MATMUL_TILE} columns dividing N`,
    wins: "M = 1; measured 1.5–3× slower than 4×8 on lavapipe and llvmpipe",
    params: { read: "uniform B", tileM: 1, tileN: "N" },
  },
  {
    name: "uniform-B 8x8",
    why: "64 accumulators: half the loads again, for spills",
    wins: "adapters with more registers, when tuned",
    params: { read: "uniform B", tileM: 8, tileN: 8 },
  },
  {
    name: "uniform-B 4x16",
    why: "64 accumulators, the other way round",
    wins: "adapters with more registers, when tuned",
    params: { read: "uniform B", tileM: 4, tileN: 16 },
  },
  {
    name: "uniform A, B 4x8",
    why: "no storage read left in the inner loop, for more dispatches",
    wins: "SwiftShader, when tuned",
    params: { read: "uniform A, B", tileM: 4, tileN: 8 },
  },
  {
    name: "uniform A, B 2x16",
    why: "the same with wider rows of C",
    wins: "SwiftShader, when tuned",
    params: { read: "uniform A, B", tileM: 2, tileN: 16 },
  },
  {
    name: "storage 4x8",
    why: "storage reads, a 4×8 register tile (32 accumulators)",
    wins: "GPUs: the GPU rule; rows of B larger than a 64 KiB view",
    params: { read: "storage", tileM: 4, tileN: 8 },
  },
  {
    name: "storage 8x4",
    why: "storage reads, an 8×4 register tile (32 accumulators)",
    wins: "GPUs, when tuned",
    params: { read: "storage", tileM: 8, tileN: 4 },
  },
];

/** Parameters of a matmul kernel: views of B (with a plan), of A too, and the register tile. */
export interface MatmulKernel {
  /** Uniform views of B; undefined: the storage kernel. */
  plan?: ChunkPlan;
  /** Uniform views of A too (with `plan`). */
  aPlan?: ChunkPlan;
  /** Rows of C per invocation. */
  tileM: number;
  /** Columns of C per invocation. */
  tileN: number;
}

function resolveMatmul(
  line: CandidateLine<MatmulLine>,
  s: MatmulShape,
): Candidate<MatmulKernel> | null {
  const { read, tileM } = line.params;
  if (read === "storage") {
    const { tileN } = line.params as { tileN: number };
    const plan = matmulUniformPlan(s, UNIFORM_BINDING_FLOATS);
    return {
      variant: `storage tile ${tileM}x${tileN}`,
      why: `storage reads${
        plan ? "" : " (a row of B exceeds a 64 KiB view)"
      }, ${tileM}×${tileN} register tile (32 accumulators)`,
      kernel: { tileM, tileN },
      views: [],
    };
  }
  if (tileM > s.M) return null;
  if (read === "uniform A, B") {
    const both = matmulViewPlans(s, UNIFORM_BINDING_FLOATS);
    if (!both) return null;
    const calls = s.transA
      ? both.plan.chunks.length
      : both.plan.chunks.length * both.aPlan.chunks.length;
    const tileN = Math.min(line.params.tileN as number, s.transB ? both.plan.images : s.N);
    return {
      variant: `uniform A, B views×${calls} tile ${tileM}x${tileN}`,
      why:
        `A and B through uniform views (${calls} dispatches); ${tileM}×${tileN} of C per invocation`,
      kernel: { ...both, tileM, tileN },
      views: [{ operand: "a", plan: both.aPlan }, { operand: "b", plan: both.plan }],
    };
  }
  const plan = matmulUniformPlan(s, UNIFORM_BINDING_FLOATS);
  if (!plan) return null;
  const cols = s.transB ? plan.images : s.N;
  const exact = blockSize(cols, MAX_MATMUL_TILE);
  const tileN = line.params.tileN === "N"
    ? (exact >= MIN_EXACT_MATMUL_TILE ? exact : Math.min(GUARDED_MATMUL_TILE, cols))
    : Math.min(line.params.tileN, cols);
  const split = s.transB ? "output columns" : "the inner dimension";
  return {
    variant: `uniform-B views×${plan.chunks.length} tile ${tileM}x${tileN}`,
    why:
      `B through ${plan.chunks.length} uniform view(s) split along ${split}; ${tileM}×${tileN} of C per invocation${
        cols % tileN === 0 ? "" : " (guarded edge)"
      }`,
    kernel: { plan, tileM, tileN },
    views: [{ operand: "b", plan }],
  };
}

/**
 * Matmul (Linear): B through uniform views (by output columns when B is stored transposed, by
 * the inner dimension otherwise) with the CPU rule's 4×8 tile, or the others of
 * {@linkcode MATMUL_CANDIDATES}; the storage kernel (GPU rule) is the only candidate when a row
 * of B does not fit a view.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseMatmul } from "./matmul_candidates.ts";
 * import { CPU_RULES } from "./choose.ts";
 * const c = chooseMatmul({ M: 256, N: 120, K: 400, transB: true }, CPU_RULES);
 * assert.equal(c.variant, "uniform-B views×3 tile 4x8");
 * assert.ok(c.alternatives.includes("storage tile 4x8"));
 * ```
 */
export function chooseMatmul(s: MatmulShape, tuning: Tuning): Choice<MatmulKernel> {
  const key = `matmul ${s.M}x${s.N}x${s.K}${s.transA ? " Aᵀ" : ""}${s.transB ? " Bᵀ" : ""}`;
  const resolve = (line: CandidateLine<MatmulLine>) => resolveMatmul(line, s);
  return choose(key, MATMUL_CANDIDATES, resolve, RULES.matmul, tuning);
}
