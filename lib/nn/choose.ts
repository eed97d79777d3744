/**
 * Kernel choosers: for each op, its variants side by side, why each exists and where it wins, and
 * the one place a variant is picked. Layers ask here; the step plan prints what was chosen and why
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
import { conv2dWeightGradPlan } from "../../kernels/conv2d.ts";
import { type MatmulShape, matmulUniformPlan } from "../../kernels/linear.ts";
import {
  type Pool2dShape,
  type PoolBackwardVariant,
  windowsTileInput,
} from "../../kernels/pool.ts";
import { type ChunkPlan, UNIFORM_BINDING_FLOATS, uniformChunks } from "../../kernels/views.ts";
import { blockSize, windowOutputSize } from "../../kernels/spec.ts";

/** A chooser's answer: the variant's name, the reason, and the kernel parameters. */
export interface Choice<P> {
  /** Short name of the variant, e.g. `views×13 uniform-weights tile 6x4`. */
  variant: string;
  /** Why this variant (and these parameters) were picked. */
  why: string;
  /** What the kernel factory needs. */
  params: P;
}

/**
 * Most accumulators one invocation keeps in registers. With more, lavapipe's compiled loops spill
 * and slow down (measured on the convolution and matmul kernels: 32 was the knee).
 */
export const MAX_ACCUMULATORS = 32;

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
 * The correlation tile (conv forward and backward to the input): as many output channels as
 * divide evenly up to {@linkcode MAX_TILE_CHANNELS}, then as many adjacent columns as keep the
 * tile within {@linkcode MAX_ACCUMULATORS}. A column count that divides the row avoids edge guards,
 * so it is preferred unless it is under half the cap (then the cap, with a guarded edge).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convTile } from "./choose.ts";
 * assert.deepEqual(convTile(6, 28), { channels: 6, columns: 4 });
 * assert.deepEqual(convTile(16, 10), { channels: 16, columns: 2 });
 * ```
 */
export function convTile(outChannels: number, outWidth: number): ConvTile {
  const channels = blockSize(outChannels, MAX_TILE_CHANNELS);
  const cap = Math.max(1, Math.floor(MAX_ACCUMULATORS / channels));
  const exact = blockSize(outWidth, cap);
  const columns = 2 * exact >= Math.min(cap, outWidth) ? exact : Math.min(cap, outWidth);
  return { channels, columns };
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

function convChoice(
  perImage: number,
  batch: number,
  uniformWeights: boolean,
  tile: ConvTile,
  operand: string,
): Choice<ConvChoice> {
  const plan = uniformChunks(batch, perImage, UNIFORM_BINDING_FLOATS) ?? undefined;
  const reads = plan
    ? `${operand} through ${plan.chunks.length} uniform view(s) of ${plan.images} images (uniform reads are ~30× cheaper on CPU adapters)`
    : `${operand} from storage (one image of ${perImage} floats exceeds a 64 KiB view)`;
  const weights = uniformWeights
    ? "weights as a uniform binding"
    : "weights from storage (larger than the uniform limit)";
  return {
    variant: `${plan ? `views×${plan.chunks.length}` : "storage"} ${
      uniformWeights ? "uniform-weights" : "storage-weights"
    } tile ${tile.channels}x${tile.columns}`,
    why:
      `${reads}; ${weights}; tile of ${tile.channels} channels × ${tile.columns} columns keeps ≤ ${MAX_ACCUMULATORS} accumulators`,
    params: { inputPlan: plan, uniformWeights, tile },
  };
}

/**
 * Conv forward: reads x through uniform views when one image fits a view, else from storage.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseConvForward } from "./choose.ts";
 * const shape = {
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * } as const;
 * assert.equal(chooseConvForward(shape, true).variant, "views×13 uniform-weights tile 6x4");
 * ```
 */
export function chooseConvForward(s: Conv2dShape, weightsFit: boolean): Choice<ConvChoice> {
  const [, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  const tile = convTile(s.outChannels, OW);
  return convChoice(s.inChannels * s.height * s.width, s.batch, weightsFit, tile, "x");
}

/**
 * Conv backward to the input: reads dy through uniform views when one image of dy fits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseConvBackwardInput } from "./choose.ts";
 * const shape = {
 *   batch: 256, inChannels: 6, height: 14, width: 14, outChannels: 16,
 *   kernel: [5, 5], stride: [1, 1], padding: [0, 0],
 * } as const;
 * assert.match(chooseConvBackwardInput(shape, true).variant, /^views×26/);
 * ```
 */
export function chooseConvBackwardInput(s: Conv2dShape, weightsFit: boolean): Choice<ConvChoice> {
  const [OH, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  const tile = convTile(s.inChannels, s.width);
  return convChoice(s.outChannels * OH * OW, s.batch, weightsFit, tile, "dy");
}

/**
 * Conv backward to weight and bias: one invocation per (image, out channel, in channel) with x
 * read through uniform views; or, when an image is too large for a view, per (image, channel
 * block, kernel row) from storage, with a block of output channels that keeps
 * `block × KW ≤ MAX_ACCUMULATORS`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseConvBackwardWeight } from "./choose.ts";
 * const shape = {
 *   batch: 256, inChannels: 1, height: 28, width: 28, outChannels: 6,
 *   kernel: [5, 5], stride: [1, 1], padding: [2, 2],
 * } as const;
 * assert.equal(chooseConvBackwardWeight(shape).variant, "views×13");
 * ```
 */
export function chooseConvBackwardWeight(
  s: Conv2dShape,
): Choice<{ plan: ChunkPlan } | { outBlock: number }> {
  const plan = conv2dWeightGradPlan(s, UNIFORM_BINDING_FLOATS);
  if (plan) {
    return {
      variant: `views×${plan.chunks.length}`,
      why:
        `x through ${plan.chunks.length} uniform view(s); each invocation keeps its KH×KW taps in registers and streams dy once`,
      params: { plan },
    };
  }
  const outBlock = blockSize(
    s.outChannels,
    Math.max(1, Math.floor(MAX_ACCUMULATORS / s.kernel[1])),
  );
  return {
    variant: `storage block ${outBlock}`,
    why:
      `one image exceeds a 64 KiB view: x from storage, ${outBlock} output channels × one kernel row per invocation`,
    params: { outBlock },
  };
}

/**
 * Pooling backward: `tiled` (one invocation per window writes its inputs: no gathering, no
 * bounds arithmetic) when windows tile the input; else `gather` (one invocation per input sums
 * the windows that cover it), which is correct for any stride and padding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { choosePoolBackward } from "./choose.ts";
 * const s = { batch: 1, channels: 6, height: 28, width: 28, kernel: [2, 2], stride: [2, 2], padding: [0, 0] } as const;
 * assert.equal(choosePoolBackward(s).variant, "tiled");
 * assert.equal(choosePoolBackward({ ...s, stride: [1, 1] }).variant, "gather");
 * ```
 */
export function choosePoolBackward(s: Pool2dShape): Choice<{ variant: PoolBackwardVariant }> {
  return windowsTileInput(s)
    ? {
      variant: "tiled",
      why: "windows tile the input: one invocation per window writes all its inputs",
      params: { variant: "tiled" },
    }
    : {
      variant: "gather",
      why: "windows overlap or leave a remainder: each input gathers from the windows covering it",
      params: { variant: "gather" },
    };
}

/**
 * Matmul (Linear): B through uniform views (by output columns when B is stored transposed, by
 * the inner dimension otherwise) with a tile of up to {@linkcode MAX_MATMUL_TILE} columns; or the
 * storage kernel with a 4×8 tile (32 accumulators) when a row of B does not fit a view.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseMatmul } from "./choose.ts";
 * const c = chooseMatmul({ M: 256, N: 120, K: 400, transB: true });
 * assert.equal(c.variant, "uniform-B views×3 tile 20");
 * ```
 */
export function chooseMatmul(
  s: MatmulShape,
): Choice<{ plan?: ChunkPlan; tileN: number; tileM?: number }> {
  const plan = matmulUniformPlan(s, UNIFORM_BINDING_FLOATS);
  if (!plan) {
    return {
      variant: "storage tile 4x8",
      why: "a row of B exceeds a 64 KiB view: storage reads, 4×8 register tile (32 accumulators)",
      params: { tileM: 4, tileN: 8 },
    };
  }
  const cols = s.transB ? plan.images : s.N;
  const exact = blockSize(cols, MAX_MATMUL_TILE);
  const tileN = exact >= MIN_EXACT_MATMUL_TILE ? exact : Math.min(GUARDED_MATMUL_TILE, cols);
  const split = s.transB ? "output columns" : "the inner dimension";
  return {
    variant: `uniform-B views×${plan.chunks.length} tile ${tileN}`,
    why:
      `B through ${plan.chunks.length} uniform view(s) split along ${split}; ${tileN} columns per invocation${
        exact === tileN ? " (divides exactly)" : " (guarded edge)"
      }`,
    params: { plan, tileN },
  };
}
