/**
 * The LeNet-5 of the reference program, and its variants.
 *
 *   Conv2d(1, 6, 5, padding=2) → act → pool(2) → Conv2d(6, 16, 5) → act → pool(2) → Flatten →
 *   Linear(400, 120) → act → Linear(120, 84) → act → Linear(84, 10)
 *
 * The indices match PyTorch's `nn.Sequential`, so parameter names are `0.weight`, `3.weight`,
 * `7.weight`, `9.weight` and `11.weight` (and biases), as in the reference's `state_dict()`.
 *
 * @module
 */
import { ACTIVATION_KINDS, type ActivationKind } from "../../kernels/activation.ts";
import { POOL_KINDS, type PoolKind } from "../../kernels/pool.ts";
import { activationLayer } from "./activation.ts";
import { Conv2d } from "./conv2d.ts";
import { Flatten } from "./flatten.ts";
import type { Layer } from "./layer.ts";
import { Linear } from "./linear.ts";
import { AvgPool2d, MaxPool2d } from "./pool.ts";
import { Sequential } from "./sequential.ts";
import { Random } from "../random.ts";
import { DEFAULTS } from "../defaults.ts";

/** Options of {@linkcode lenet5}. */
export interface LeNetOptions {
  /** Activation after each conv and hidden linear layer; default `sigmoid` (the reference). */
  activation?: ActivationKind;
  /** Pooling; default `avg` (the reference). */
  pool?: PoolKind;
  /** Seed of the initial weights; default 0. */
  seed?: number;
  /** Side of the square input images; default 28. */
  inputSize?: number;
  /** Number of classes; default 10. */
  numClasses?: number;
}

/**
 * Builds LeNet-5 with PyTorch's default initialisation from a seeded generator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5 } from "./lenet.ts";
 * const net = lenet5({ activation: "relu", pool: "max", seed: 1 });
 * assert.deepEqual(net.inputShape, [1, 28, 28]);
 * assert.deepEqual(net.outputShape([1, 28, 28]), [10]);
 * ```
 */
export function lenet5(options: LeNetOptions = {}): Sequential {
  const activation = options.activation ?? DEFAULTS.activation;
  const poolKind = options.pool ?? DEFAULTS.pool;
  if (!ACTIVATION_KINDS.includes(activation)) {
    throw new RangeError(
      `lenet5: activation must be one of ${ACTIVATION_KINDS.join(", ")}, got "${activation}"`,
    );
  }
  if (!POOL_KINDS.includes(poolKind)) {
    throw new RangeError(`lenet5: pool must be one of ${POOL_KINDS.join(", ")}, got "${poolKind}"`);
  }
  const rng = new Random(options.seed ?? DEFAULTS.seed);
  const act = (): Layer => activationLayer(activation);
  const pool = (): Layer => poolKind === "max" ? new MaxPool2d(2) : new AvgPool2d(2);
  const side = options.inputSize ?? DEFAULTS.inputSize;
  const classes = options.numClasses ?? DEFAULTS.numClasses;
  checkLenetSize(side, classes);
  const after = flattenedSide(side);
  return new Sequential([
    new Conv2d(1, 6, 5, { padding: 2, rng }),
    act(),
    pool(),
    new Conv2d(6, 16, 5, { rng }),
    act(),
    pool(),
    new Flatten(),
    new Linear(16 * after * after, 120, { rng }),
    act(),
    new Linear(120, 84, { rng }),
    act(),
    new Linear(84, classes, { rng }),
  ], { inputShape: [1, side, side] });
}

/** The side of conv2's pooled maps: conv(5, pad 2) keeps the side, each pool halves it. */
function flattenedSide(side: number): number {
  return Math.floor((Math.floor(side / 2) - 4) / 2);
}

/**
 * LeNet-5's parameter count for `side`×`side` inputs, worked out without building it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenetParameters } from "./lenet.ts";
 * assert.equal(lenetParameters(28), 61706);
 * ```
 */
export function lenetParameters(side: number, classes: number = DEFAULTS.numClasses): number {
  const flat = 16 * flattenedSide(side) ** 2;
  return (6 * 25 + 6) + (16 * 6 * 25 + 16) + (flat * 120 + 120) + (120 * 84 + 84) +
    (84 * classes + classes);
}

/**
 * The largest input side whose LeNet-5 parameters fit `DEFAULTS.maxParameterBytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { largestLenetInput } from "./lenet.ts";
 * assert.equal(largestLenetInput(), 539);
 * ```
 */
export function largestLenetInput(classes: number = DEFAULTS.numClasses): number {
  let side = 12;
  // Parameters grow with the side: step up while the next size still fits.
  while (4 * lenetParameters(side + 1, classes) <= DEFAULTS.maxParameterBytes) side++;
  return side;
}

/**
 * Throws unless LeNet-5 can be built for `side`×`side` inputs: at least 12 pixels, and
 * parameters within `DEFAULTS.maxParameterBytes` — checked in arithmetic, before anything is
 * allocated, naming the largest size that fits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLenetSize } from "./lenet.ts";
 * checkLenetSize(28);
 * assert.throws(() => checkLenetSize(4096), /the largest input size that fits is 539/);
 * ```
 */
export function checkLenetSize(side: number, classes: number = DEFAULTS.numClasses): void {
  if (!Number.isInteger(side)) {
    throw new RangeError(`lenet5: input size must be an integer, got ${side}`);
  }
  if (flattenedSide(side) < 1) {
    throw new RangeError(`lenet5: input size ${side} is too small (at least 12)`);
  }
  if (!(Number.isInteger(classes) && classes > 0)) {
    throw new RangeError(
      `lenet5: the number of classes must be a positive integer, got ${classes}`,
    );
  }
  const bytes = 4 * lenetParameters(side, classes);
  if (bytes > DEFAULTS.maxParameterBytes) {
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    throw new RangeError(
      `lenet5: input size ${side} needs ${mib(bytes)} of parameters, more than the ${
        mib(DEFAULTS.maxParameterBytes)
      } one buffer holds: the largest input size that fits is ${largestLenetInput(classes)}`,
    );
  }
}

/**
 * The reference's shape printout: each layer's name and output shape for one input, e.g.
 * `Conv2d output shape:\t [1, 6, 28, 28]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, shapeSummary } from "./lenet.ts";
 * assert.equal(shapeSummary(lenet5(), [1, 28, 28])[0], "Conv2d output shape:\t [1, 6, 28, 28]");
 * ```
 */
export function shapeSummary(net: Sequential, input: readonly number[]): string[] {
  const shapes = net.shapes(input);
  return net.flat().map(({ layer }, i) => {
    const name = String(layer).replace(/\(.*/s, "");
    return `${name} output shape:\t [1, ${shapes[i + 1].join(", ")}]`;
  });
}
