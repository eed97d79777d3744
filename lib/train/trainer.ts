/**
 * `train`: the training loop of the reference program — shuffled batches, forward,
 * cross-entropy, backward and an optimiser step, one command encoder per step — with its options
 * checked first. The training set lives on the device; the CPU reads the running loss sums back
 * only at log points and epoch ends. Its rooms: `train_types.ts` (the options, events and
 * history), `_train_checks.ts`, `_train_run.ts` (the loop), `train_on_batch.ts`.
 *
 * @module
 */
import { DEFAULTS } from "../defaults.ts";
import type { Model } from "./model.ts";
import { checkSchedule } from "./schedule.ts";
import { RECIPES } from "./recipe.ts";
import { checkSplit, exclusive } from "./_guards.ts";
import type { TrainData, TrainHistory, TrainOptions } from "./train_types.ts";
import { checkAugment, checkProgress, withRecipe } from "./_train_checks.ts";
import { trainLoop } from "./_train_run.ts";

export type {
  EpochMetrics,
  LossPoint,
  StepEvent,
  TrainData,
  TrainHistory,
  TrainOptions,
  TrainProgress,
} from "./train_types.ts";
export { checkProgress } from "./_train_checks.ts";
export { trainOnBatch } from "./train_on_batch.ts";

/**
 * Trains `model` in place and returns the history. Throws `NonFiniteError` (naming the step) when
 * the loss stops being finite, `GpuFaultError` when the device reports an error, and
 * `ModelBusyError` when the model is already running something.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Adam, head, lenet5, loadFashionMnist, Model, requestGpu, train } from "../../mod.ts";
 * const data = await loadFashionMnist({ download: false });
 * const model = new Model(await requestGpu(), lenet5({ activation: "relu", pool: "max" }));
 * const optimizer = new Adam({ lr: 1e-3 });
 * const history = await train(model, { train: head(data.train, 1024), test: head(data.test, 512) }, {
 *   epochs: 2,
 *   batchSize: 64,
 *   optimizer,
 *   onEpoch: (m) => assert.ok(m.test_accuracy > 0.1),
 * });
 * assert.equal(history.epochs.length, 2);
 * assert.ok(history.epochs[1].train_loss < history.epochs[0].train_loss);
 * optimizer.dispose();
 * model.dispose();
 * ```
 */
export async function train(
  model: Model,
  data: TrainData,
  given: TrainOptions = {},
): Promise<TrainHistory> {
  const options = withRecipe(given);
  const epochs = options.epochs ?? DEFAULTS.epochs;
  const batchSize = options.batchSize ?? DEFAULTS.batchSize;
  const logEvery = options.logEvery ?? DEFAULTS.logEvery;
  const syncEvery = options.syncEvery ?? DEFAULTS.syncEvery;
  for (const [name, v] of Object.entries({ epochs, batchSize, logEvery, syncEvery })) {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new RangeError(`train: ${name} must be a positive integer, got ${v}`);
    }
  }
  checkSplit(data.train, model.classes, "train: the training split");
  if (data.test) checkSplit(data.test, model.classes, "train: the test split");
  if (data.validation) checkSplit(data.validation, model.classes, "train: the validation split");
  const stepsPerEpoch = Math.ceil(data.train.count / batchSize);
  if (options.resume) checkProgress(options.resume, stepsPerEpoch);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) {
    throw new RangeError(`train: labelSmoothing must be from 0 to 1, got ${smoothing}`);
  }
  if (options.augment) checkAugment(options.augment, data.train);
  if (options.schedule) {
    checkSchedule(
      options.schedule,
      // The rate the run's optimiser will have: given, the recipe's, or Adam's default.
      options.optimizer?.lr ?? (options.recipe ? RECIPES[options.recipe].lr : DEFAULTS.adam.lr),
      epochs * stepsPerEpoch,
    );
  }
  return await exclusive(
    model,
    "train",
    () => trainLoop(model, data, options, { epochs, batchSize, logEvery, syncEvery }),
  );
}
