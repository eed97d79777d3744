/**
 * The convolution's kernel candidates: one table for the correlations (the forward pass and the
 * gradient of the input, the same register-tiled kernel in `kernels/conv2d.ts`) and one for the
 * weight gradient (`kernels/conv2d_weight.ts`). Each line is a candidate; the rules that pick
 * among them without measurements are in `choose.ts`. A tile written as a rule (`rule`, or a
 * channel block and a column count) is worked out for the shape by {@linkcode resolveTile}.
 *
 * @module
 */
import type { Conv2dShape, ConvTile } from "../../kernels/conv2d.ts";
import {
  conv2dWeightGradPlan,
  conv2dWeightGradViews,
  type WeightGradVariant,
} from "../../kernels/conv2d_weight.ts";
import type { PoolKind } from "../../kernels/pool.ts";
import { blockSize, windowOutputSize } from "../../kernels/spec.ts";
import { type ChunkPlan, UNIFORM_BINDING_FLOATS, uniformChunks } from "../../kernels/views.ts";
import {
  type Candidate,
  type CandidateLine,
  type Choice,
  choose,
  RULES,
  type Tuning,
} from "./choose.ts";

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
 * Most output channels of a correlation tile: each input value loaded is reused this many times;
 * past 16 the column run gets too short to reuse a loaded input row across taps.
 */
export const MAX_TILE_CHANNELS = 16;

/**
 * How many times more dispatches a weight gradient may take to read dy through views too (its
 * chunks hold fewer images): conv2's 26 instead of 20 pays, conv1's 86 instead of 13 would not.
 */
export const MAX_VIEW_CHUNK_GROWTH = 1.5;

/**
 * A correlation tile as a table line writes it: the rule's ({@linkcode convTile}), or the n-th
 * largest channel block (a divisor of the channels, at most {@linkcode MAX_TILE_CHANNELS}) with
 * a column run that divides the row (`exact`), fills {@linkcode MAX_ACCUMULATORS} (`cap`), half
 * of that (`half`), or spans the row (`row`, within {@linkcode MAX_FULL_ROW_ACCUMULATORS}).
 */
export type TileRule = "rule" | {
  readonly block: 1 | 2 | 3;
  readonly columns: "exact" | "cap" | "half" | "row";
};

/** A correlation line's parameters: where the streamed operand is read from, and the tile. */
export interface CorrelationLine {
  /** The streamed operand (x forward, dy backward) through uniform views, or from storage. */
  readonly operand: "views" | "storage";
  /** The register tile. */
  readonly tile: TileRule;
}

const STORAGE = "storage" as const;

/** Why each tile rule exists. */
const TILE_WHY = {
  rule: "the rule's tile",
  exact: "a column run that divides the row (no guarded edge)",
  cap: "the longest column run within the accumulator cap",
  half: "half that run: fewer live values",
  row: "the whole row: taps on padding skipped at compile time",
} as const;

/** A correlation line, named after its parameters. */
function correlation(
  operand: CorrelationLine["operand"],
  tile: TileRule,
  wins: string,
): CandidateLine<CorrelationLine> {
  const name = tile === "rule"
    ? `${operand}, rule tile`
    : `${operand}, block ${tile.block} ${tile.columns}`;
  const source = operand === "views"
    ? "uniform reads are ~30× cheaper than storage reads on CPU adapters"
    : "addresses differ across lanes: no uniform serialisation on a GPU";
  const why = `${source}; ${TILE_WHY[tile === "rule" ? "rule" : tile.columns]}`;
  return { name, why, wins, params: { operand, tile } };
}

/**
 * Correlation candidates (conv forward, conv backward to the input), one line each: the
 * streamed operand through uniform views (weights a uniform binding when they fit one) or from
 * storage, × the rule's tile or a block of the 1st, 2nd or 3rd largest channel count.
 */
export const CORRELATION_CANDIDATES: readonly CandidateLine<CorrelationLine>[] = [
  correlation("views", "rule", "lavapipe, llvmpipe: the CPU rule"),
  correlation("views", { block: 1, columns: "exact" }, "conv1 when the rule's block is smaller"),
  correlation("views", { block: 1, columns: "cap" }, "SwiftShader, when tuned"),
  correlation("views", { block: 1, columns: "half" }, "SwiftShader, when tuned"),
  correlation("views", { block: 1, columns: "row" }, "short rows (the rule's, up to 16)"),
  correlation("views", { block: 2, columns: "exact" }, "SwiftShader, when tuned"),
  correlation("views", { block: 2, columns: "cap" }, "SwiftShader, when tuned"),
  correlation("views", { block: 2, columns: "half" }, "SwiftShader, when tuned"),
  correlation("views", { block: 2, columns: "row" }, "padded input gradients, when tuned"),
  correlation("views", { block: 3, columns: "exact" }, "SwiftShader, when tuned"),
  correlation("views", { block: 3, columns: "cap" }, "SwiftShader, when tuned"),
  correlation("views", { block: 3, columns: "half" }, "SwiftShader, when tuned"),
  correlation("views", { block: 3, columns: "row" }, "padded input gradients, when tuned"),
  correlation("storage", "rule", "GPUs: the GPU rule; images larger than a 64 KiB view"),
  correlation("storage", { block: 1, columns: "exact" }, "GPUs, when tuned"),
  correlation("storage", { block: 1, columns: "cap" }, "GPUs, when tuned"),
  correlation("storage", { block: 1, columns: "half" }, "GPUs, when tuned"),
  correlation("storage", { block: 1, columns: "row" }, "GPUs, when tuned"),
  correlation("storage", { block: 2, columns: "exact" }, "GPUs, when tuned"),
  correlation("storage", { block: 2, columns: "cap" }, "GPUs, when tuned"),
  correlation("storage", { block: 2, columns: "half" }, "GPUs, when tuned"),
  correlation("storage", { block: 2, columns: "row" }, "GPUs, when tuned"),
  correlation("storage", { block: 3, columns: "exact" }, "GPUs, when tuned"),
  correlation("storage", { block: 3, columns: "cap" }, "GPUs, when tuned"),
  correlation("storage", { block: 3, columns: "half" }, "GPUs, when tuned"),
  correlation("storage", { block: 3, columns: "row" }, "GPUs, when tuned"),
];

/**
 * The rule's correlation tile. A short row (at most {@linkcode MAX_FULL_ROW_WIDTH} columns) is
 * taken whole, with the largest channel block that keeps it within
 * {@linkcode MAX_FULL_ROW_ACCUMULATORS}: no tile waste past the row's end, and no multiply-adds
 * with padding. Otherwise as many output channels as divide evenly up to
 * {@linkcode MAX_TILE_CHANNELS}, then as many adjacent columns as keep the tile within
 * {@linkcode MAX_ACCUMULATORS}; a column count that divides the row avoids edge guards, so it is
 * preferred unless it is under half the cap (then the cap, with a guarded edge).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convTile } from "./conv_candidates.ts";
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
  const channels = blockSize(outChannels, MAX_TILE_CHANNELS);
  const cap = Math.max(1, Math.floor(MAX_ACCUMULATORS / channels));
  const exact = blockSize(outWidth, cap);
  const columns = 2 * exact >= Math.min(cap, outWidth) ? exact : Math.min(cap, outWidth);
  return { channels, columns };
}

/**
 * A tile rule worked out for `outChannels` × `outWidth` outputs; null when the line does not
 * apply (no such channel block, or a row too long to take whole).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTile } from "./conv_candidates.ts";
 * assert.deepEqual(resolveTile("rule", 16, 10), { channels: 8, columns: 10 });
 * assert.deepEqual(resolveTile({ block: 1, columns: "cap" }, 16, 10), { channels: 16, columns: 2 });
 * assert.equal(resolveTile({ block: 1, columns: "row" }, 6, 28), null); // 6 × 28 > 96
 * ```
 */
export function resolveTile(
  rule: TileRule,
  outChannels: number,
  outWidth: number,
): ConvTile | null {
  if (rule === "rule") return convTile(outChannels, outWidth);
  const blocks = Array.from({ length: Math.min(outChannels, MAX_TILE_CHANNELS) }, (_, i) => i + 1)
    .filter((d) => outChannels % d === 0).reverse();
  const channels = blocks[rule.block - 1];
  if (channels === undefined) return null;
  const cap = Math.max(1, Math.floor(MAX_ACCUMULATORS / channels));
  if (rule.columns === "row" && channels * outWidth > MAX_FULL_ROW_ACCUMULATORS) return null;
  const columns = {
    exact: blockSize(outWidth, cap),
    cap: Math.min(cap, outWidth),
    half: Math.ceil(cap / 2),
    row: outWidth,
  }[rule.columns];
  return { channels, columns: Math.min(columns, outWidth) };
}

/**
 * Every distinct tile the correlation table's lines resolve to for `outChannels` × `outWidth`
 * outputs (the rule's first): what the kernel tests run against the CPU reference.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { correlationTiles } from "./conv_candidates.ts";
 * const tiles = correlationTiles(16, 10);
 * assert.deepEqual(tiles[0], { channels: 8, columns: 10 }); // the rule's
 * assert.ok(tiles.some((t) => t.channels === 16 && t.columns === 2));
 * ```
 */
export function correlationTiles(outChannels: number, outWidth: number): ConvTile[] {
  const tiles: ConvTile[] = [];
  for (const line of CORRELATION_CANDIDATES) {
    const t = resolveTile(line.params.tile, outChannels, outWidth);
    if (t && !tiles.some((u) => u.channels === t.channels && u.columns === t.columns)) {
      tiles.push(t);
    }
  }
  return tiles;
}

/** What a correlation kernel reads its streamed operand and weights through, and its tile. */
export interface CorrelationKernel {
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

/** What a correlation line needs of its op to resolve. */
interface CorrelationOp {
  /** The streamed operand's name and floats per image. */
  operand: "x" | "dy";
  perImage: number;
  batch: number;
  weightsFit: boolean;
  /** Output channels and row width of the correlation. */
  outChannels: number;
  outWidth: number;
  /** Whole 2×2 windows only (a pooling fused in): even column counts. */
  evenColumns: boolean;
}

function resolveCorrelation(
  line: CandidateLine<CorrelationLine>,
  op: CorrelationOp,
): Candidate<CorrelationKernel> | null {
  const found = resolveTile(line.params.tile, op.outChannels, op.outWidth);
  if (!found) return null;
  const tile = op.evenColumns ? { ...found, columns: found.columns + (found.columns % 2) } : found;
  const plan = uniformChunks(op.batch, op.perImage, UNIFORM_BINDING_FLOATS) ?? undefined;
  const tileWhy = `tile of ${tile.channels} channels × ${tile.columns} columns ${
    tile.channels * tile.columns <= MAX_ACCUMULATORS
      ? `keeps ≤ ${MAX_ACCUMULATORS} accumulators`
      : "spans the row: taps on padding are not computed"
  }`;
  const name = `tile ${tile.channels}x${tile.columns}`;
  if (line.params.operand === STORAGE) {
    return {
      variant: `storage ${name}`,
      why: `${op.operand} and weights from storage (${
        plan
          ? "addresses differ across lanes: no uniform serialisation on a GPU"
          : `one image of ${op.perImage} floats exceeds a 64 KiB view`
      }); ${tileWhy}`,
      kernel: { uniformWeights: false, tile },
      views: [],
    };
  }
  if (!plan) return null;
  const weights = op.weightsFit ? "uniform-weights" : "storage-weights";
  return {
    variant: `views×${plan.chunks.length} ${weights} ${name}`,
    why: `${op.operand} through ${plan.chunks.length} uniform view(s) of ${plan.images} images ` +
      `(uniform reads are ~30× cheaper on CPU adapters); weights ${
        op.weightsFit ? "as a uniform binding" : "from storage (larger than the uniform limit)"
      }; ${tileWhy}`,
    kernel: { inputPlan: plan, uniformWeights: op.weightsFit, tile },
    views: [{ operand: op.operand, plan }],
  };
}

/**
 * Conv forward: x through uniform views when one image fits a view (CPU rule), else storage.
 * With a 2×2 pooling fused in (`pool`), only tiles of an even column count (whole windows), under
 * a key of their own: `conv2d.forward+avgpool2 ...`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseConvForward } from "./conv_candidates.ts";
 * import { CPU_RULES } from "./choose.ts";
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
): Choice<CorrelationKernel> {
  const [, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  const op: CorrelationOp = {
    operand: "x",
    perImage: s.inChannels * s.height * s.width,
    batch: s.batch,
    weightsFit,
    outChannels: s.outChannels,
    outWidth: OW,
    evenColumns: pool !== undefined,
  };
  const key = convKey(pool ? `conv2d.forward+${pool}pool2` : "conv2d.forward", s);
  const resolve = (line: CandidateLine<CorrelationLine>) => resolveCorrelation(line, op);
  return choose(key, CORRELATION_CANDIDATES, resolve, RULES.correlation, tuning);
}

/**
 * Conv backward to the input: dy through uniform views when one image of dy fits (CPU rule).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseConvBackwardInput } from "./conv_candidates.ts";
 * import { CPU_RULES } from "./choose.ts";
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
): Choice<CorrelationKernel> {
  const [OH, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  const op: CorrelationOp = {
    operand: "dy",
    perImage: s.outChannels * OH * OW,
    batch: s.batch,
    weightsFit,
    outChannels: s.inChannels,
    outWidth: s.width,
    evenColumns: false,
  };
  const resolve = (line: CandidateLine<CorrelationLine>) => resolveCorrelation(line, op);
  return choose(
    convKey("conv2d.backward_input", s),
    CORRELATION_CANDIDATES,
    resolve,
    RULES.correlation,
    tuning,
  );
}

/** A weight-gradient line's parameters. */
export interface WeightGradLine {
  /** x, and dy (or a folded pooling's gradient) too, through uniform views; or from storage. */
  readonly read: "views x" | "views x+dy" | "storage";
  /** Stream each input row once past a window of the last KH dy rows (vertical stride 1). */
  readonly byInputRow?: boolean;
  /** Storage: output channels per invocation, within this many accumulators (× KW). */
  readonly accumulators?: number;
}

/** Weight-gradient candidates (conv backward to weight and bias), one line each. */
export const WEIGHT_GRAD_CANDIDATES: readonly CandidateLine<WeightGradLine>[] = [
  {
    name: "views x+dy, by input row",
    why: "no storage read in the loop, each input row loaded once",
    wins: "lavapipe: conv2 (26 dispatches instead of 20)",
    params: { read: "views x+dy", byInputRow: true },
  },
  {
    name: "views x+dy",
    why: "no storage read in the loop; dy streamed once per kernel row",
    wins: "vertical strides other than 1",
    params: { read: "views x+dy" },
  },
  {
    name: "views x, by input row",
    why: "dy's larger images would shrink the chunks: only x through views",
    wins: "lavapipe: conv1 (viewing dy too: 86 dispatches instead of 13)",
    params: { read: "views x", byInputRow: true },
  },
  {
    name: "views x",
    why: "x through views, dy from storage, streamed once",
    wins: "vertical strides other than 1",
    params: { read: "views x" },
  },
  {
    name: "storage, block ≤ 32 accumulators",
    why: "a block of output channels × one kernel row per invocation",
    wins: "GPUs: the GPU rule; images larger than a 64 KiB view",
    params: { read: "storage", accumulators: 32 },
  },
  {
    name: "storage, block ≤ 16 accumulators",
    why: "half the block: more invocations, fewer live values",
    wins: "GPUs with few registers, when tuned",
    params: { read: "storage", accumulators: 16 },
  },
];

/** What the weight-gradient kernel is given: its variant, and a folded pooling's view of dpool. */
export interface WeightGradKernel {
  /** The kernel's variant. */
  variant: WeightGradVariant;
  /** With a pooling's backward folded in: dpool through views chunked like x. */
  dpoolView?: ChunkPlan;
}

function resolveWeightGrad(
  line: CandidateLine<WeightGradLine>,
  s: Conv2dShape,
  pooledDy: PoolKind | undefined,
): Candidate<WeightGradKernel> | null {
  const { read, byInputRow, accumulators } = line.params;
  if (byInputRow && s.stride[0] !== 1) return null;
  const xPlan = conv2dWeightGradPlan(s, UNIFORM_BINDING_FLOATS);
  const dy = pooledDy ? `dy from the ${pooledDy} pooling's gradient` : "dy";
  const rowWhy = byInputRow
    ? "each invocation keeps its KH×KW taps and the last KH dy rows in registers and loads each input row once"
    : "each invocation keeps its KH×KW taps in registers and streams dy once";
  const byRow = byInputRow ? " by input row" : "";
  const window = byInputRow ? { window: true } : {};
  if (read === "storage") {
    const cap = Math.max(1, Math.floor(MAX_ACCUMULATORS / s.kernel[1]));
    const outBlock = blockSize(s.outChannels, accumulators === MAX_ACCUMULATORS ? cap : cap / 2);
    return {
      variant: `storage block ${outBlock}`,
      why: `x from storage${
        xPlan ? "" : " (one image exceeds a 64 KiB view)"
      }: ${outBlock} output channels × one kernel row per invocation`,
      kernel: { variant: { outBlock } },
      views: [],
    };
  }
  if (!xPlan) return null;
  if (read === "views x") {
    return {
      variant: `views×${xPlan.chunks.length}${byRow}`,
      why: `x through ${xPlan.chunks.length} uniform view(s), ${dy} from storage; ${rowWhy}`,
      kernel: { variant: { plan: xPlan, ...window } },
      views: [{ operand: "x", plan: xPlan }],
    };
  }
  // With a pooling's backward folded in, dy is not stored: the second view is of its gradient.
  const both = conv2dWeightGradViews(s, UNIFORM_BINDING_FLOATS, pooledDy !== undefined);
  if (!both) return null;
  const second = pooledDy ? "dpool" : "dy";
  const n = both.plan.chunks.length;
  return {
    variant: `views×${n} x, ${second}${byRow}`,
    why: `x and ${
      pooledDy ? "the pooling's gradient" : "dy"
    } through ${n} uniform view(s) each; ${rowWhy}`,
    kernel: pooledDy
      ? { variant: { plan: both.plan, ...window }, dpoolView: both.dyPlan }
      : { variant: { plan: both.plan, dyPlan: both.dyPlan, ...window } },
    views: [{ operand: "x", plan: both.plan }, { operand: second, plan: both.dyPlan }],
    // Viewing dy too saves its storage reads but can shrink the chunks (dy's images are larger):
    // a rule takes it while the dispatches stay within MAX_VIEW_CHUNK_GROWTH of x's alone.
    ruleable: n <= MAX_VIEW_CHUNK_GROWTH * xPlan.chunks.length,
  };
}

/**
 * Conv backward to weight and bias (with `pooledDy`, the backward of a following 2×2 pooling
 * folded in, under a key of its own).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseConvBackwardWeight } from "./conv_candidates.ts";
 * import { CPU_RULES } from "./choose.ts";
 * const shape = {
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * } as const;
 * const choice = chooseConvBackwardWeight(shape, CPU_RULES);
 * // Viewing dy too would take 86 chunks of 3 images.
 * assert.equal(choice.variant, "views×13 by input row");
 * assert.deepEqual(choice.alternatives, [
 *   "views×86 x, dy by input row",
 *   "views×86 x, dy",
 *   "views×13 by input row",
 *   "views×13",
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
): Choice<WeightGradKernel> {
  const op = pooledDy ? `conv2d.backward_weight+${pooledDy}pool2` : "conv2d.backward_weight";
  const resolve = (line: CandidateLine<WeightGradLine>) => resolveWeightGrad(line, s, pooledDy);
  return choose(convKey(op, s), WEIGHT_GRAD_CANDIDATES, resolve, RULES.weightGrad, tuning);
}
