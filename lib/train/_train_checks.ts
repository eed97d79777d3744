// What `train` checks before it starts: a resumed run's progress, the augmentation against the
// images, and a recipe's settings filled in where the caller gave none.
import type { Split } from "../../data/dataset.ts";
import { DEFAULTS } from "../defaults.ts";
import { Random } from "../random.ts";
import type { Augment } from "../../kernels/batch.ts";
import { augmentOf, RECIPE_NAMES, RECIPES, scheduleOf } from "./recipe.ts";
import type { TrainOptions, TrainProgress } from "./train_types.ts";

/**
 * Throws unless `p` is a point a run of `stepsPerEpoch` batches can be at: whole counts in range,
 * a generator state, finite sums (a file's progress is checked as carefully as a flag).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkProgress } from "./trainer.ts";
 * const at = { epoch: 1, batch: 0, step: 235, rng: [1, 2, 3, 4], totals: [0, 0, 0, 0] };
 * checkProgress({ ...at, pending: { sum: 0, steps: 0, lastRead: 0 } }, 235);
 * assert.throws(
 *   () => checkProgress({ ...at, batch: 9999, pending: { sum: 0, steps: 0, lastRead: 0 } }, 235),
 *   /batch 9999 is not a batch of an epoch of 235/,
 * );
 * ```
 */
export function checkProgress(p: TrainProgress, stepsPerEpoch: number): void {
  const whole = (v: unknown, max = Infinity) =>
    typeof v === "number" && Number.isInteger(v) && v >= 0 && v < max;
  const finite = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  const problems = [
    !whole(p.epoch) && `epoch ${p.epoch} is not a count of epochs`,
    // Up to all of them: stopped after an epoch's last step, before its evaluation.
    !whole(p.batch, stepsPerEpoch + 1) &&
    `batch ${p.batch} is not a batch of an epoch of ${stepsPerEpoch} (0 to ${stepsPerEpoch})`,
    !whole(p.step) && `step ${p.step} is not a count of steps`,
    !(Array.isArray(p.totals) && p.totals.length === 4 && p.totals.every(finite)) &&
    `totals ${JSON.stringify(p.totals)} are not four finite sums`,
    !(finite(p.pending?.sum) && whole(p.pending?.steps) && finite(p.pending?.lastRead)) &&
    `pending ${JSON.stringify(p.pending)} is not a loss window`,
  ].filter(Boolean);
  if (problems.length) throw new RangeError(`train: resume: ${problems.join("; ")}`);
  Random.fromState(p.rng);
}

/** The options with a recipe's settings filled in where none is given. */
export function withRecipe(options: TrainOptions): TrainOptions {
  if (options.recipe === undefined) return options;
  const r = RECIPES[options.recipe];
  if (!r) {
    throw new RangeError(
      `train: unknown recipe "${options.recipe}"; the recipes are ${RECIPE_NAMES.join(", ")}`,
    );
  }
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return {
    epochs: r.epochs,
    batchSize: r.batchSize,
    schedule: scheduleOf(r.schedule),
    labelSmoothing: r.labelSmoothing,
    augment: augmentOf(r.augment, options.seed ?? DEFAULTS.seed),
    ...given,
  };
}

/** Throws unless `a` is an augmentation of images like `split`'s. */
export function checkAugment(a: Augment, split: Split): void {
  const bad = (what: string) => {
    throw new RangeError(`train: augment: ${what}`);
  };
  if (!(Number.isInteger(a.seed) && a.seed >= 0 && a.seed < 2 ** 32)) bad(`seed ${a.seed}`);
  if (!(Number.isInteger(a.cropPadding) && a.cropPadding >= 0 && a.cropPadding <= 8)) {
    bad(`cropPadding must be a whole number from 0 to 8, got ${a.cropPadding}`);
  }
  const e = a.erase;
  const side = Math.min(split.rows, split.cols);
  if (
    e && !(e.p >= 0 && e.p <= 1 && Number.isInteger(e.min) && Number.isInteger(e.max) &&
      e.min >= 1 && e.min <= e.max && e.max <= side)
  ) {
    bad(`erase needs p from 0 to 1 and sides 1 <= min <= max <= ${side}, got ${JSON.stringify(e)}`);
  }
}
