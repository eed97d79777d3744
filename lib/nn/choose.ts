/**
 * Kernel choosers: for each op, its variants side by side, why each exists and where it wins, and
 * the one place a variant is picked: a measured pick from a `Tuning` (`lib/train/tune.ts`), else
 * the rules below. Layers ask here; the step plan prints what was chosen and why
 * (`deno task bench --plan`). The rules come from measurements on lavapipe (see the README's
 * "Performance"): a storage read costs ~30× a uniform read there, arithmetic is cheap, and more
 * than ~32 live accumulators per invocation spill.
 *
 * | op                    | variants                                   | picked by                  |
 * | --------------------- | ------------------------------------------ | -------------------------- |
 * | conv forward          | input through uniform views / storage      | an image fits a view       |
 * | conv backward input   | dy through uniform views / storage         | an image of dy fits a view |
 * | conv backward weight  | x through uniform views / storage blocks   | an image fits a view       |
 * | conv weights (both)   | uniform binding / storage                  | the segment fits the limit |
 * | pooling backward      | tiled (per window) / gather (per input)    | windows tile the input     |
 * | matmul (Linear)       | B through uniform views / storage          | a row of B fits a view     |
 *
 * @module
 */
import type { Conv2dShape, ConvTile } from "../../kernels/conv2d.ts";
import { conv2dWeightGradPlan, conv2dWeightGradViews } from "../../kernels/conv2d_weight.ts";
import { type MatmulShape, matmulUniformPlan, matmulViewPlans } from "../../kernels/linear.ts";
import {
  type Pool2dShape,
  type PoolBackwardVariant,
  type PoolKind,
  windowsTileInput,
} from "../../kernels/pool.ts";
import { type ChunkPlan, UNIFORM_BINDING_FLOATS, uniformChunks } from "../../kernels/views.ts";
import { blockSize, windowOutputSize } from "../../kernels/spec.ts";

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
   * uniform read whose address differs across lanes serialises on a real GPU).
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

/** A candidate variant of an op: its name, why it exists, and the kernel parameters. */
export interface Candidate<P> {
  /** Short name of the variant, e.g. `views×13 uniform-weights tile 6x4`. */
  variant: string;
  /** Why this variant (and these parameters). */
  why: string;
  /** What the kernel factory needs. */
  params: P;
}

/** A chooser's answer: the picked candidate, the op's tuning key and every candidate's name. */
export interface Choice<P> extends Candidate<P> {
  /** The op's key in a {@linkcode Tuning}: the op and its shape. */
  key: string;
  /** Every candidate's variant name, the rules' pick of each policy first. */
  alternatives: readonly string[];
}

/** Picks from `candidates`: the tuned pick, else the policy's rule (`cpu` first, `gpu` given). */
function select<P>(
  key: string,
  candidates: readonly Candidate<P>[],
  tuning: Tuning,
  gpuRule: number,
): Choice<P> {
  const alternatives = candidates.map((c) => c.variant);
  const tuned = candidates.find((c) => c.variant === tuning.picks[key]);
  if (tuned) return { ...tuned, why: `measured fastest here; ${tuned.why}`, key, alternatives };
  const rule = candidates[tuning.defaults === "gpu" ? gpuRule : 0];
  return { ...rule, key, alternatives };
}

/**
 * Most accumulators one invocation keeps in registers. With more, lavapipe's compiled loops spill
 * and slow down (measured on the convolution and matmul kernels: 32 was the knee).
 */
export const MAX_ACCUMULATORS = 32;

/**
 * Most accumulators of a tile that spans a whole output row. Such a tile knows at compile time
 * which taps meet padding and skips them (half the work of a padded input gradient), and the
 * spills of up to 84 accumulators cost less than that on lavapipe (conv2's input gradient: 6×14
 * and 3×14 took half the time of the best 32-accumulator tile).
 */
export const MAX_FULL_ROW_ACCUMULATORS = 96;

/**
 * Widest row the rule takes whole. Past it the channel block gets small (conv1's 28 columns allow
 * 3 channels) and the tuner measured the 32-accumulator tiles faster there: little padding to skip.
 */
export const MAX_FULL_ROW_WIDTH = 16;

/**
 * How many times more dispatches a weight gradient may take to read dy through views too (its
 * chunks hold fewer images): conv2's 26 instead of 20 pays, conv1's 86 instead of 13 would not.
 */
export const MAX_VIEW_CHUNK_GROWTH = 1.5;

/**
 * Most output channels of a correlation tile: each input value loaded is reused this many times;
 * past 16 the column run gets too short to reuse a loaded input row across taps.
 */
export const MAX_TILE_CHANNELS = 16;

/**
 * Most columns of a uniform-B matmul tile. A divisor of the column count wins (no guarded edge)
 * when it is at least {@linkcode MIN_EXACT_MATMUL_TILE}; otherwise a 16-wide tile with a guard.
 */
export const MAX_MATMUL_TILE = 20;
/** See {@linkcode MAX_MATMUL_TILE}. */
export const MIN_EXACT_MATMUL_TILE = 8;
/** The guarded tile width used when no good divisor exists. */
export const GUARDED_MATMUL_TILE = 16;

/**
 * The correlation tile (conv forward and backward to the input). A short row (at most
 * {@linkcode MAX_FULL_ROW_WIDTH} columns) is taken whole, with the largest channel block that keeps
 * it within {@linkcode MAX_FULL_ROW_ACCUMULATORS}: no tile waste past the row's end, and no
 * multiply-adds with padding. Otherwise as many output channels as divide evenly up to
 * {@linkcode MAX_TILE_CHANNELS}, then as many adjacent columns as keep the tile within
 * {@linkcode MAX_ACCUMULATORS}; a column count that divides the row avoids edge guards, so it is
 * preferred unless it is under half the cap (then the cap, with a guarded edge).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convTile } from "./choose.ts";
 * assert.deepEqual(convTile(6, 28), { channels: 6, columns: 4 }); // LeNet's conv1
 * assert.deepEqual(convTile(16, 10), { channels: 8, columns: 10 }); // conv2
 * assert.deepEqual(convTile(6, 14), { channels: 6, columns: 14 }); // conv2's input gradient
 * ```
 */
export function convTile(outChannels: number, outWidth: number): ConvTile {
  if (outWidth <= MAX_FULL_ROW_WIDTH) {
    const channels = blockSize(
      outChannels,
      Math.min(MAX_TILE_CHANNELS, Math.floor(MAX_FULL_ROW_ACCUMULATORS / outWidth)),
    );
    if (channels * outWidth <= MAX_FULL_ROW_ACCUMULATORS) return { channels, columns: outWidth };
  }
  return tileFor(blockSize(outChannels, MAX_TILE_CHANNELS), outWidth);
}

function tileFor(channels: number, outWidth: number): ConvTile {
  const cap = Math.max(1, Math.floor(MAX_ACCUMULATORS / channels));
  const exact = blockSize(outWidth, cap);
  const columns = 2 * exact >= Math.min(cap, outWidth) ? exact : Math.min(cap, outWidth);
  return { channels, columns };
}

/**
 * The tiles a tuner tries: the rule's, then for the three largest channel blocks the exact, capped
 * and half-capped column counts (within {@linkcode MAX_ACCUMULATORS}) and the whole row (within
 * {@linkcode MAX_FULL_ROW_ACCUMULATORS}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convTileCandidates } from "./choose.ts";
 * const tiles = convTileCandidates(16, 10);
 * assert.deepEqual(tiles[0], { channels: 8, columns: 10 }); // the rule's
 * assert.ok(tiles.every((t) => t.channels * t.columns <= 32 || t.columns === 10));
 * assert.ok(tiles.some((t) => t.channels === 16 && t.columns === 2));
 * ```
 */
export function convTileCandidates(outChannels: number, outWidth: number): ConvTile[] {
  const tiles = [convTile(outChannels, outWidth)];
  const blocks = Array.from({ length: Math.min(outChannels, MAX_TILE_CHANNELS) }, (_, i) => i + 1)
    .filter((d) => outChannels % d === 0).slice(-3).reverse();
  for (const channels of blocks) {
    const cap = Math.max(1, Math.floor(MAX_ACCUMULATORS / channels));
    const fullRow = channels * outWidth <= MAX_FULL_ROW_ACCUMULATORS ? [outWidth] : [];
    const runs = [
      blockSize(outWidth, cap),
      Math.min(cap, outWidth),
      Math.ceil(cap / 2),
      ...fullRow,
    ];
    for (const columns of runs) {
      const tile = { channels, columns: Math.min(columns, outWidth) };
      if (!tiles.some((t) => t.channels === tile.channels && t.columns === tile.columns)) {
        tiles.push(tile);
      }
    }
  }
  return tiles;
}

/** What a convolution kernel reads its streamed operand and weights through. */
export interface ConvChoice {
  /** Uniform views of the streamed operand (x forward, dy backward); undefined: storage. */
  inputPlan?: ChunkPlan;
  /** Weights through a uniform binding. */
  uniformWeights: boolean;
  /** Register tile. */
  tile: ConvTile;
}

function convKey(op: string, s: Conv2dShape): string {
  return `${op} ${s.batch}x${s.inChannels}x${s.height}x${s.width}→${s.outChannels} k${
    s.kernel.join("x")
  } s${s.stride.join("x")} p${s.padding.join("x")}`;
}

/**
 * Correlation candidates: the streamed operand through uniform views with uniform weights (when
 * they fit), or everything from storage; each with the tiles of {@linkcode convTileCandidates}.
 * The CPU rule is the first (views, the rule's tile), the GPU rule the storage one with it.
 */
function correlationCandidates(
  perImage: number,
  batch: number,
  weightsFit: boolean,
  tiles: ConvTile[],
  operand: string,
): { candidates: Candidate<ConvChoice>[]; gpuRule: number } {
  const plan = uniformChunks(batch, perImage, UNIFORM_BINDING_FLOATS) ?? undefined;
  const candidates: Candidate<ConvChoice>[] = [];
  const tileWhy = (t: ConvTile) =>
    `tile of ${t.channels} channels × ${t.columns} columns ${
      t.channels * t.columns <= MAX_ACCUMULATORS
        ? `keeps ≤ ${MAX_ACCUMULATORS} accumulators`
        : "spans the row: taps on padding are not computed"
    }`;
  if (plan) {
    for (const tile of tiles) {
      candidates.push({
        variant: `views×${plan.chunks.length} ${
          weightsFit ? "uniform-weights" : "storage-weights"
        } tile ${tile.channels}x${tile.columns}`,
        why: `${operand} through ${plan.chunks.length} uniform view(s) of ${plan.images} images ` +
          `(uniform reads are ~30× cheaper on CPU adapters); weights ${
            weightsFit ? "as a uniform binding" : "from storage (larger than the uniform limit)"
          }; ${tileWhy(tile)}`,
        params: { inputPlan: plan, uniformWeights: weightsFit, tile },
      });
    }
  }
  const gpuRule = candidates.length;
  for (const tile of tiles) {
    candidates.push({
      variant: `storage tile ${tile.channels}x${tile.columns}`,
      why: `${operand} and weights from storage (${
        plan
          ? "addresses differ across lanes: no uniform serialisation on a GPU"
          : `one image of ${perImage} floats exceeds a 64 KiB view`
      }); ${tileWhy(tile)}`,
      params: { uniformWeights: false, tile },
    });
  }
  return { candidates, gpuRule };
}

/**
 * Conv forward: x through uniform views when one image fits a view (CPU rule), else storage.
 * With a 2×2 pooling fused in (`pool`), only tiles of an even column count (whole windows), under
 * a key of their own: `conv2d.forward+avgpool2 ...`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseConvForward, CPU_RULES } from "./choose.ts";
 * const shape = {
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * } as const;
 * assert.equal(chooseConvForward(shape, true, CPU_RULES).variant, "views×13 uniform-weights tile 6x4");
 * assert.equal(chooseConvForward(shape, true, { picks: {}, defaults: "gpu" }).variant, "storage tile 6x4");
 * const pooled = chooseConvForward(shape, true, CPU_RULES, "max");
 * assert.match(pooled.key, /^conv2d\.forward\+maxpool2 /);
 * assert.ok(pooled.alternatives.every((v) => /tile \d+x\d*[02468]$/.test(v)));
 * ```
 */
export function chooseConvForward(
  s: Conv2dShape,
  weightsFit: boolean,
  tuning: Tuning,
  pool?: PoolKind,
): Choice<ConvChoice> {
  const [, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  const even = (t: ConvTile) => ({ ...t, columns: t.columns + (t.columns % 2) });
  const tiles = convTileCandidates(s.outChannels, OW);
  const { candidates, gpuRule } = correlationCandidates(
    s.inChannels * s.height * s.width,
    s.batch,
    weightsFit,
    pool
      ? tiles.map(even).filter((t, i, all) =>
        all.findIndex((u) => u.channels === t.channels && u.columns === t.columns) === i
      )
      : tiles,
    "x",
  );
  const op = pool ? `conv2d.forward+${pool}pool2` : "conv2d.forward";
  return select(convKey(op, s), candidates, tuning, gpuRule);
}

/**
 * Conv backward to the input: dy through uniform views when one image of dy fits (CPU rule).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseConvBackwardInput, CPU_RULES } from "./choose.ts";
 * const shape = {
 *   batch: 256, inChannels: 6, height: 14, width: 14, outChannels: 16,
 *   kernel: [5, 5], stride: [1, 1], padding: [0, 0],
 * } as const;
 * assert.match(chooseConvBackwardInput(shape, true, CPU_RULES).variant, /^views×26/);
 * ```
 */
export function chooseConvBackwardInput(
  s: Conv2dShape,
  weightsFit: boolean,
  tuning: Tuning,
): Choice<ConvChoice> {
  const [OH, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  const { candidates, gpuRule } = correlationCandidates(
    s.outChannels * OH * OW,
    s.batch,
    weightsFit,
    convTileCandidates(s.inChannels, s.width),
    "dy",
  );
  return select(convKey("conv2d.backward_input", s), candidates, tuning, gpuRule);
}

/** A weight-gradient variant: views of x (and of dy), or storage with a block of channels. */
export type WeightGradVariant =
  | { plan: ChunkPlan; dyPlan?: ChunkPlan; dpoolPlan?: ChunkPlan; window?: boolean }
  | { outBlock: number };

/**
 * Conv backward to weight and bias (with `pooledDy`, the backward of a following 2×2 pooling
 * folded in, under a key of its own): one invocation per (image, out channel, in channel) with x,
 * and dy too when its chunks stay large enough, read through uniform views, by input row when the
 * vertical stride is 1 (CPU rule); or per (image, channel block, kernel row) from storage, with a
 * block of output channels that keeps `block × KW ≤ MAX_ACCUMULATORS` (or half of it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseConvBackwardWeight, CPU_RULES } from "./choose.ts";
 * const shape = {
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * } as const;
 * const choice = chooseConvBackwardWeight(shape, CPU_RULES);
 * // Viewing dy too would take 86 chunks of 3 images.
 * assert.equal(choice.variant, "views×13 by input row");
 * assert.deepEqual(choice.alternatives, [
 *   "views×13 by input row",
 *   "views×13",
 *   "views×86 x, dy by input row",
 *   "views×86 x, dy",
 *   "storage block 6",
 *   "storage block 3",
 * ]);
 * const conv2 = { ...shape, inChannels: 6, height: 14, width: 14, outChannels: 16 } as const;
 * const unpadded = { ...conv2, padding: [0, 0] as const };
 * assert.equal(chooseConvBackwardWeight(unpadded, CPU_RULES).variant, "views×26 x, dy by input row");
 * ```
 */
export function chooseConvBackwardWeight(
  s: Conv2dShape,
  tuning: Tuning,
  pooledDy?: PoolKind,
): Choice<WeightGradVariant> {
  const candidates: Candidate<WeightGradVariant>[] = [];
  const plan = conv2dWeightGradPlan(s, UNIFORM_BINDING_FLOATS);
  // With a pooling's backward folded in, dy is not stored: the second view is of its gradient.
  const views = conv2dWeightGradViews(s, UNIFORM_BINDING_FLOATS, pooledDy !== undefined);
  const dy = pooledDy ? `dy from the ${pooledDy} pooling's gradient` : "dy";
  const xOnly = plan && {
    variant: `views×${plan.chunks.length}`,
    why: `x through ${plan.chunks.length} uniform view(s), ${dy} from storage`,
    params: { plan },
  };
  const both = views && {
    variant: `views×${views.plan.chunks.length} x, ${pooledDy ? "dpool" : "dy"}`,
    why: `x and ${
      pooledDy ? "the pooling's gradient" : "dy"
    } through ${views.plan.chunks.length} uniform view(s) each`,
    params: pooledDy ? { plan: views.plan, dpoolPlan: views.dyPlan } : views,
  };
  // Viewing dy too saves its storage reads but can shrink the chunks (dy's images are larger):
  // worth it while the dispatches stay within MAX_VIEW_CHUNK_GROWTH of x's alone.
  const bothFirst = both &&
    (!plan || views.plan.chunks.length <= MAX_VIEW_CHUNK_GROWTH * plan.chunks.length);
  const viewed = (bothFirst ? [both, xOnly] : [xOnly, both]).flatMap((c) => (c ? [c] : []));
  for (const c of viewed) {
    // With a vertical stride of 1, the input rows can stream past a window of dy rows: each is
    // loaded once instead of once per kernel row (same products, same order).
    if (s.stride[0] === 1) {
      candidates.push({
        variant: `${c.variant} by input row`,
        why:
          `${c.why}; each invocation keeps its KH×KW taps and the last KH dy rows in registers and loads each input row once`,
        params: { ...c.params, window: true },
      });
    }
    candidates.push({
      ...c,
      why: `${c.why}; each invocation keeps its KH×KW taps in registers and streams dy once`,
    });
  }
  const gpuRule = candidates.length;
  const cap = Math.max(1, Math.floor(MAX_ACCUMULATORS / s.kernel[1]));
  for (
    const outBlock of new Set([blockSize(s.outChannels, cap), blockSize(s.outChannels, cap / 2)])
  ) {
    candidates.push({
      variant: `storage block ${outBlock}`,
      why: `x from storage${
        plan ? "" : " (one image exceeds a 64 KiB view)"
      }: ${outBlock} output channels × one kernel row per invocation`,
      params: { outBlock },
    });
  }
  const op = pooledDy ? `conv2d.backward_weight+${pooledDy}pool2` : "conv2d.backward_weight";
  return select(convKey(op, s), candidates, tuning, gpuRule);
}

/**
 * Pooling backward: `tiled` (one invocation per window writes its inputs: no gathering, no
 * bounds arithmetic) when windows tile the input; `gather` (one invocation per input sums the
 * windows that cover it) is correct for any stride and padding, and the only candidate otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choosePoolBackward, CPU_RULES } from "./choose.ts";
 * const s = { batch: 1, channels: 6, height: 28, width: 28, kernel: [2, 2], stride: [2, 2], padding: [0, 0] } as const;
 * assert.equal(choosePoolBackward(s, "avg", CPU_RULES).variant, "tiled");
 * assert.equal(choosePoolBackward({ ...s, stride: [1, 1] }, "avg", CPU_RULES).variant, "gather");
 * ```
 */
export function choosePoolBackward(
  s: Pool2dShape,
  kind: string,
  tuning: Tuning,
): Choice<{ variant: PoolBackwardVariant }> {
  const tiled: Candidate<{ variant: PoolBackwardVariant }> = {
    variant: "tiled",
    why: "windows tile the input: one invocation per window writes all its inputs",
    params: { variant: "tiled" },
  };
  const gather: Candidate<{ variant: PoolBackwardVariant }> = {
    variant: "gather",
    why: windowsTileInput(s)
      ? "each input gathers from the window covering it (one write per invocation)"
      : "windows overlap or leave a remainder: each input gathers from the windows covering it",
    params: { variant: "gather" },
  };
  const key = `${kind}pool2d.backward ${s.batch}x${s.channels}x${s.height}x${s.width} k${
    s.kernel.join("x")
  } s${s.stride.join("x")} p${s.padding.join("x")}`;
  return windowsTileInput(s)
    ? select(key, [tiled, gather], tuning, 0)
    : select(key, [gather], tuning, 0);
}

/** Parameters of a matmul variant: views of B (with a plan) or storage, and the register tile. */
export interface MatmulChoice {
  /** Uniform views of B; undefined: the storage kernel. */
  plan?: ChunkPlan;
  /** Uniform views of A too (with `plan`). */
  aPlan?: ChunkPlan;
  /** Rows of C per invocation. */
  tileM: number;
  /** Columns of C per invocation. */
  tileN: number;
}

/**
 * Matmul (Linear): B through uniform views (by output columns when B is stored transposed, by
 * the inner dimension otherwise) with tiles of 4×8 (CPU rule), 2×16 and 1×(up to
 * {@linkcode MAX_MATMUL_TILE}); or the storage kernel with a 4×8 or 8×4 tile (GPU rule: 4×8), the
 * only candidates when a row of B does not fit a view.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseMatmul, CPU_RULES } from "./choose.ts";
 * const c = chooseMatmul({ M: 256, N: 120, K: 400, transB: true }, CPU_RULES);
 * assert.equal(c.variant, "uniform-B views×3 tile 4x8");
 * assert.ok(c.alternatives.includes("storage tile 4x8"));
 * ```
 */
export function chooseMatmul(s: MatmulShape, tuning: Tuning): Choice<MatmulChoice> {
  const key = `matmul ${s.M}x${s.N}x${s.K}${s.transA ? " Aᵀ" : ""}${s.transB ? " Bᵀ" : ""}`;
  const candidates: Candidate<MatmulChoice>[] = [];
  const plan = matmulUniformPlan(s, UNIFORM_BINDING_FLOATS);
  const both = matmulViewPlans(s, UNIFORM_BINDING_FLOATS);
  if (both) {
    // A read through views too: no storage read left in the inner loop, for more dispatches.
    const calls = s.transA
      ? both.plan.chunks.length
      : both.plan.chunks.length * both.aPlan.chunks.length;
    const cols = s.transB ? both.plan.images : s.N;
    for (const [tileM, tileN] of [[4, Math.min(8, cols)], [2, Math.min(16, cols)]]) {
      if (tileM > s.M) continue;
      candidates.push({
        variant: `uniform A, B views×${calls} tile ${tileM}x${tileN}`,
        why:
          `A and B through uniform views (${calls} dispatches); ${tileM}×${tileN} of C per invocation`,
        params: { ...both, tileM, tileN },
      });
    }
  }
  if (plan) {
    const cols = s.transB ? plan.images : s.N;
    const exact = blockSize(cols, MAX_MATMUL_TILE);
    const wide = exact >= MIN_EXACT_MATMUL_TILE ? exact : Math.min(GUARDED_MATMUL_TILE, cols);
    const split = s.transB ? "output columns" : "the inner dimension";
    // 4×8 first (the CPU rule): each A value loaded from storage feeds 8 multiply-adds, each B
    // value 4; the tuner found 1×N tiles 1.5–3× slower on lavapipe and llvmpipe. 8×8 and 4×16
    // (64 accumulators) halve the loads again, for spills.
    const tiles: [number, number][] = [
      [4, Math.min(8, cols)],
      [2, Math.min(16, cols)],
      [1, wide],
      [8, Math.min(8, cols)],
      [4, Math.min(16, cols)],
    ];
    let first = true; // the first uniform-B tile that fits is the rule, before A, B views
    for (const [tileM, tileN] of tiles) {
      if (tileM > s.M) continue;
      candidates[first ? "unshift" : "push"]({
        variant: `uniform-B views×${plan.chunks.length} tile ${tileM}x${tileN}`,
        why:
          `B through ${plan.chunks.length} uniform view(s) split along ${split}; ${tileM}×${tileN} of C per invocation${
            cols % tileN === 0 ? "" : " (guarded edge)"
          }`,
        params: { plan, tileM, tileN },
      });
      first = false;
    }
  }
  const gpuRule = candidates.length;
  for (const [tileM, tileN] of [[4, 8], [8, 4]]) {
    candidates.push({
      variant: `storage tile ${tileM}x${tileN}`,
      why: `storage reads${
        plan ? "" : " (a row of B exceeds a 64 KiB view)"
      }, ${tileM}×${tileN} register tile (32 accumulators)`,
      params: { tileM, tileN },
    });
  }
  return select(key, candidates, tuning, gpuRule);
}

/**
 * The rules for an adapter without measured picks: a CPU (fallback) adapter gets the ones
 * measured on lavapipe, anything else the storage-read GPU rules.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rulesFor } from "./choose.ts";
 * assert.equal(rulesFor(true).defaults, "cpu");
 * assert.equal(rulesFor(false).defaults, "gpu");
 * ```
 */
export function rulesFor(fallbackAdapter: boolean): Tuning {
  return fallbackAdapter ? CPU_RULES : { picks: {}, defaults: "gpu" };
}
