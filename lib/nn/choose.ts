/**
 * What every op with kernel candidates shares: the tuning protocol (measured picks per op key,
 * `lib/train/tune.ts` measures them), the rules an adapter without picks follows, and the table of
 * ops. Each op family's candidates are one literal table in its own module, a line per candidate
 * (name, why it exists, where it wins, its kernel parameters), as llm.c's `dev/cuda` headers list
 * kernel versions:
 *
 * | op                      | candidate table                                | CPU rule / GPU rule                 |
 * | ----------------------- | ---------------------------------------------- | ----------------------------------- |
 * | `conv2d.forward`        | `CORRELATION_CANDIDATES` (conv_candidates.ts)  | views, rule tile / storage, rule    |
 * | `conv2d.backward_input` | `CORRELATION_CANDIDATES` (conv_candidates.ts)  | views, rule tile / storage, rule    |
 * | `conv2d.backward_weight`| `WEIGHT_GRAD_CANDIDATES` (conv_candidates.ts)  | views by input row / storage block  |
 * | `pool2d.backward`       | `POOL_BACKWARD_CANDIDATES` (pool_candidates.ts)| tiled where windows tile, else gather |
 * | `matmul`                | `MATMUL_CANDIDATES` (matmul_candidates.ts)     | uniform-B 4×8 / storage 4×8         |
 *
 * A line resolves for a shape into a {@linkcode Candidate}: its concrete variant name, the kernel
 * factory's parameters, and the operands it reads through uniform views (so a layer's workspace
 * holds the chunk constants of the candidates it runs, and nothing else). The rules come from
 * measurements on lavapipe (see the README's "Performance"): a storage read costs ~30× a uniform
 * read there, arithmetic is cheap, and more than ~32 live accumulators per invocation spill.
 *
 * @module
 */
import type { ChunkPlan } from "../../kernels/views.ts";

/**
 * Measured picks (see `lib/train/tune.ts`): for each op key, the variant that ran fastest on this
 * adapter. Ops without a pick get the rules of `defaults`.
 */
export interface Tuning {
  /** Op key (e.g. `conv2d.forward 256x1x28x28→6 k5x5 s1x1 p2x2`) → variant name. */
  readonly picks: Readonly<Record<string, string>>;
  /**
   * The rules for ops without a pick: `cpu`, measured on lavapipe (uniform views and uniform
   * weights: storage reads cost ~30× uniform reads there); `gpu`, storage reads everywhere (a
   * uniform read whose address differs across lanes serialises on a real GPU; SwiftShader too).
   */
  readonly defaults: "cpu" | "gpu";
}

/**
 * The hand-written rules of a CPU adapter and no measured picks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CPU_RULES } from "./choose.ts";
 * assert.deepEqual(CPU_RULES.picks, {});
 * ```
 */
export const CPU_RULES: Tuning = { picks: {}, defaults: "cpu" };

/**
 * What `tune(model, "full")` picked in SwiftShader (headless Chromium 156, 2-core AMD EPYC) for
 * the page's plan (LeNet-5, ReLU + max pooling, training batches of 64): the page trains 1,256
 * images/s with them, 416 with the lavapipe rules, 450 with the GPU rules, so SwiftShader starts
 * from them. Storage reads won 13 of the 15 ops there. Regenerate: `deno run -A
 * tools/browser_bench.ts` prints the picks its `tune=full` run stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SWIFTSHADER_PICKS } from "./choose.ts";
 * assert.equal(Object.keys(SWIFTSHADER_PICKS).length, 15);
 * ```
 */
export const SWIFTSHADER_PICKS: Readonly<Record<string, string>> = {
  "conv2d.forward+maxpool2 64x1x28x28→6 k5x5 s1x1 p2x2": "storage tile 2x28",
  "conv2d.forward+maxpool2 64x6x14x14→16 k5x5 s1x1 p0x0": "storage tile 4x10",
  "matmul 64x120x400 Bᵀ": "storage tile 4x8",
  "matmul 64x84x120 Bᵀ": "storage tile 8x4",
  "matmul 64x10x84 Bᵀ": "storage tile 4x8",
  "matmul 10x84x64 Aᵀ": "storage tile 4x8",
  "matmul 64x84x10": "storage tile 4x8",
  "matmul 84x120x64 Aᵀ": "storage tile 4x8",
  "matmul 64x120x84": "storage tile 4x8",
  "matmul 120x400x64 Aᵀ": "storage tile 4x8",
  "matmul 64x400x120": "storage tile 4x8",
  "maxpool2d.backward 64x16x10x10 k2x2 s2x2 p0x0": "tiled",
  "conv2d.backward_weight 64x6x14x14→16 k5x5 s1x1 p0x0": "storage block 2",
  "conv2d.backward_input 64x6x14x14→16 k5x5 s1x1 p0x0": "storage tile 3x14",
  "conv2d.backward_weight+maxpool2 64x1x28x28→6 k5x5 s1x1 p2x2": "views×4 by input row",
};

/**
 * The built-in choices for an adapter without measured picks, from what it says about itself: a
 * CPU (fallback) adapter gets the rules measured on lavapipe, anything else the storage-read GPU
 * rules; SwiftShader, Chromium's CPU adapter, gets {@linkcode SWIFTSHADER_PICKS} and the GPU
 * rules for other shapes (storage reads cost it no more than uniform reads).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rulesFor } from "./choose.ts";
 * assert.equal(rulesFor({ isFallbackAdapter: true, description: "llvmpipe (LLVM 19.1.7)" }).defaults, "cpu");
 * const swiftShader = rulesFor({ isFallbackAdapter: true, architecture: "swiftshader" });
 * assert.equal(swiftShader.defaults, "gpu");
 * assert.equal(swiftShader.picks["matmul 64x120x400 Bᵀ"], "storage tile 4x8");
 * assert.equal(rulesFor({ isFallbackAdapter: false }).defaults, "gpu");
 * ```
 */
export function rulesFor(
  adapter: { isFallbackAdapter: boolean; architecture?: string; description?: string },
): Tuning {
  const { isFallbackAdapter, architecture = "", description = "" } = adapter;
  const swiftShader = /swiftshader/i.test(`${architecture} ${description}`);
  if (swiftShader) return { picks: SWIFTSHADER_PICKS, defaults: "gpu" };
  return isFallbackAdapter ? CPU_RULES : { picks: {}, defaults: "gpu" };
}

/** One line of an op's candidate table, as the table writes it. */
export interface CandidateLine<P> {
  /** The line's name in its table. */
  readonly name: string;
  /** Why the candidate exists. */
  readonly why: string;
  /** Where it wins, as measured (or where it is the only choice). */
  readonly wins: string;
  /** Its kernel parameters, shape-dependent ones written as rules (e.g. a tile "rule"). */
  readonly params: P;
}

/** An operand a candidate reads through 64 KiB uniform views, with its chunking. */
export interface ViewUse {
  /** The operand's name in the op (`x`, `dy`, `dpool`, `a`, `b`). */
  readonly operand: string;
  /** Its chunks of images. */
  readonly plan: ChunkPlan;
}

/** A candidate resolved for one shape. */
export interface Candidate<K> {
  /** The variant's name, with its concrete parameters, e.g. `views×13 uniform-weights tile 6x4`. */
  variant: string;
  /** Why this variant (and these parameters). */
  why: string;
  /** The kernel factory's parameters. */
  kernel: K;
  /** The operands read through uniform views (empty: every operand from storage). */
  views: readonly ViewUse[];
  /** False when the candidate may be tuned but no rule should pick it (see its table). */
  ruleable?: boolean;
}

/** A chooser's answer: the picked candidate, the op's tuning key and every candidate's name. */
export interface Choice<K> extends Candidate<K> {
  /** The op's key in a {@linkcode Tuning}: the op and its shape. */
  key: string;
  /** Every candidate's variant name, in table order. */
  alternatives: readonly string[];
}

/**
 * The rules: per op, the table lines an adapter without measured picks runs, in order of
 * preference (the first that resolves for the shape and is ruleable).
 */
export const RULES: Readonly<
  Record<string, { readonly cpu: readonly string[]; readonly gpu: readonly string[] }>
> = {
  // The rule's tile through views (uniform reads), or from storage on a GPU.
  correlation: { cpu: ["views, rule tile", "storage, rule tile"], gpu: ["storage, rule tile"] },
  // Input rows streamed past a window of dy rows (each loaded once); dy viewed too while its
  // chunks keep the dispatches within MAX_VIEW_CHUNK_GROWTH (see conv_candidates.ts).
  weightGrad: {
    cpu: [
      "views x+dy, by input row",
      "views x, by input row",
      "views x+dy",
      "views x",
      "storage, block ≤ 32 accumulators",
    ],
    gpu: ["storage, block ≤ 32 accumulators"],
  },
  poolBackward: { cpu: ["tiled", "gather"], gpu: ["tiled", "gather"] },
  // The first uniform-B tile that fits (the tuner found 1×N 1.5–3× slower than 4×8).
  matmul: {
    cpu: ["uniform-B 4x8", "uniform-B 2x16", "uniform-B 1xN", "storage 4x8"],
    gpu: ["storage 4x8"],
  },
};

/**
 * Resolves a table for a shape and picks: the tuned pick, else the policy's rule. Lines that do
 * not apply to the shape resolve to null; lines resolving to a variant already listed are dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choose, CPU_RULES } from "./choose.ts";
 * const table = [
 *   { name: "a", why: "first", wins: "-", params: 1 },
 *   { name: "b", why: "second", wins: "-", params: 2 },
 * ];
 * const rules = { cpu: ["b"], gpu: ["a"] };
 * const resolve = (line: { params: number }) => ({
 *   variant: `v${line.params}`, why: "", kernel: line.params, views: [],
 * });
 * assert.equal(choose("op", table, resolve, rules, CPU_RULES).variant, "v2");
 * assert.equal(choose("op", table, resolve, rules, { picks: { op: "v1" }, defaults: "cpu" }).kernel, 1);
 * ```
 */
export function choose<P, K>(
  key: string,
  table: readonly CandidateLine<P>[],
  resolve: (line: CandidateLine<P>) => Candidate<K> | null,
  rules: { readonly cpu: readonly string[]; readonly gpu: readonly string[] },
  tuning: Tuning,
): Choice<K> {
  // Each distinct variant with the names of the lines that resolve to it.
  const resolved: { lines: string[]; candidate: Candidate<K> }[] = [];
  for (const line of table) {
    const candidate = resolve(line);
    if (!candidate) continue;
    const same = resolved.find((r) => r.candidate.variant === candidate.variant);
    if (same) same.lines.push(line.name);
    else resolved.push({ lines: [line.name], candidate });
  }
  const alternatives = resolved.map((r) => r.candidate.variant);
  const tuned = resolved.find((r) => r.candidate.variant === tuning.picks[key]);
  if (tuned) {
    const { candidate } = tuned;
    return { ...candidate, why: `measured fastest here; ${candidate.why}`, key, alternatives };
  }
  for (const name of rules[tuning.defaults]) {
    const rule = resolved.find((r) => r.lines.includes(name) && r.candidate.ruleable !== false);
    if (rule) return { ...rule.candidate, key, alternatives };
  }
  throw new Error(`${key}: no rule of ${tuning.defaults} applies (${alternatives.join(", ")})`);
}
