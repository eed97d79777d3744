/**
 * The training loop of the reference program: shuffled batches, forward, cross-entropy,
 * backward and an optimiser step, one command encoder per step. The training set lives on the
 * device; the CPU reads the running loss sums back only at log points and epoch ends.
 *
 * @module
 */
import type { Split } from "../../data/dataset.ts";
import { readFloats, uniformBuffer, writeBytes } from "../gpu/buffers.ts";
import { KernelRunner } from "../gpu/kernel_runner.ts";
import { DEFAULTS } from "../defaults.ts";
import { permutation, Random } from "../random.ts";
import { sizeOf } from "../tensor.ts";
import { destroySplit, type DeviceSplit, setOrder, uploadSplit } from "./device_data.ts";
import { evaluateResident } from "./evaluator.ts";
import type { Model } from "./model.ts";
import { Adam, type Optimizer } from "./optimizer.ts";
import { passSteps } from "./pass.ts";
import { stepCalls } from "./plan.ts";
import { readTotals, resetTotals, TOTALS, totalsBuffer } from "./totals.ts";
import { checkLabels, checkSplit, exclusive } from "./_guards.ts";
import { checkGpu } from "../gpu/device.ts";
import { historyHtml, JUPYTER_DISPLAY, type MediaBundle } from "../view/html.ts";
import { NonFiniteError } from "../../errors.ts";

/** Reported after each step. */
export interface StepEvent {
  /** Epoch, from 1. */
  epoch: number;
  /** Steps done since the start, from 1. */
  step: number;
  /** Batch within the epoch, from 1. */
  batch: number;
  /** Batches per epoch. */
  batches: number;
  /** Images trained on in this epoch so far. */
  images: number;
  /** Seconds since the epoch began. */
  seconds: number;
  /** At log points only: the mean of the batch losses since the last log point. */
  loss?: number;
}

/** One epoch's summary (the fields of a `metrics.jsonl` line). */
export interface EpochMetrics {
  /** Epoch, from 1. */
  epoch: number;
  /** Mean training loss over the epoch's images. */
  train_loss: number;
  /** Training accuracy over the epoch (measured while the weights changed). */
  train_accuracy: number;
  /** Mean test loss (NaN without a test split). */
  test_loss: number;
  /** Test accuracy (NaN without a test split). */
  test_accuracy: number;
  /** Seconds spent training. */
  train_seconds: number;
  /** Seconds spent evaluating. */
  eval_seconds: number;
  /** Training images per second. */
  images_per_second: number;
}

/** A logged training loss. */
export interface LossPoint {
  /** Global step at which it was logged. */
  step: number;
  /** Mean batch loss since the previous point. */
  loss: number;
}

/** What {@linkcode train} returns. */
export interface TrainHistory {
  /** The logged losses. */
  losses: LossPoint[];
  /** One entry per completed epoch. */
  epochs: EpochMetrics[];
  /** True when the signal stopped training early. */
  stopped: boolean;
  /** Where the run stands: pass it as `resume` (with the model's and optimiser's state) to go on. */
  progress: TrainProgress;
  /** What a notebook shows: the loss curve with the test accuracy, and a table per epoch. */
  [JUPYTER_DISPLAY]?: () => MediaBundle;
}

/**
 * Where a run stands, to continue it exactly: with the same model weights and optimiser state,
 * `train(model, data, { ...sameOptions, resume: progress })` takes the same steps an
 * uninterrupted run would have taken.
 */
export interface TrainProgress {
  /** Epochs completed. */
  epoch: number;
  /** Batches done of the next epoch (0 at an epoch boundary). */
  batch: number;
  /** Steps done since the start. */
  step: number;
  /** The shuffling generator's state before the next epoch's shuffle (`Random.state()`). */
  rng: number[];
  /** The running sums of the unfinished epoch (`METRIC_TOTALS` order; zeros at a boundary). */
  totals: number[];
  /** The loss window not logged yet: its sum, its steps, and the epoch sum read last. */
  pending: { sum: number; steps: number; lastRead: number };
}

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** Epochs, default 10 (`DEFAULTS`). */
  epochs?: number;
  /** Batch size, default 256. */
  batchSize?: number;
  /** Optimiser, default a `new Adam()` of this call (freed when it ends). */
  optimizer?: Optimizer;
  /** Seed of the shuffling, default 0. */
  seed?: number;
  /** Log the mean loss every this many steps, default 100. */
  logEvery?: number;
  /** Wait for the device every this many steps so that progress and timing are real; default 10. */
  syncEvery?: number;
  /** Called after each step (with `loss` at log points). */
  onStep?: (event: StepEvent) => void | Promise<void>;
  /** Called after each epoch. */
  onEpoch?: (metrics: EpochMetrics, progress: TrainProgress) => void | Promise<void>;
  /** Stops training after the current step. */
  signal?: AbortSignal;
  /**
   * Continue a run from its `progress` (the model and optimiser restored to the same point);
   * `epochs` is then the total, counting the epochs already done.
   */
  resume?: TrainProgress;
  /** Evaluation batch size (results do not depend on it), default the larger of 256 and the training batch size. */
  evalBatchSize?: number;
}

/** The training and (optional) test split. */
export interface TrainData {
  /** Training images. */
  train: Split;
  /** Test images, evaluated after each epoch. */
  test?: Split;
}

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
  options: TrainOptions = {},
): Promise<TrainHistory> {
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
  return await exclusive(
    model,
    "train",
    () => trainLoop(model, data, options, { epochs, batchSize, logEvery, syncEvery }),
  );
}

async function trainLoop(
  model: Model,
  data: TrainData,
  options: TrainOptions,
  { epochs, batchSize, logEvery, syncEvery }: {
    epochs: number;
    batchSize: number;
    logEvery: number;
    syncEvery: number;
  },
): Promise<TrainHistory> {
  const device = model.gpu.device;
  const runner = KernelRunner.for(device);
  const optimizer = options.optimizer ?? new Adam();
  const ownsOptimizer = options.optimizer === undefined;
  const update = optimizer.attach(model);
  const evalBatchSize = options.evalBatchSize ??
    Math.min(Math.max(batchSize, DEFAULTS.evalBatchSize), model.maxBatchSize("eval"));
  // Every step's loss lands in a ring of `syncEvery` slots, read at each sync point: a NaN is
  // caught within `syncEvery` steps and named to the step, at no extra wait.
  const ring = syncEvery;
  const totals = totalsBuffer(device, "train totals", ring);
  const window = uniformBuffer(device, "train window");
  const resident: DeviceSplit[] = [];
  const resume = options.resume;
  const rng = resume ? Random.fromState(resume.rng) : new Random(options.seed ?? DEFAULTS.seed);
  let rngAtEpochStart = rng.state();
  let step = resume?.step ?? 0, checked = step, epoch = resume?.epoch ?? 0;
  let windowSum = resume?.pending.sum ?? 0, windowSteps = resume?.pending.steps ?? 0;
  let lastRead = resume?.pending.lastRead ?? 0, batchesDone = 0, completed = epoch;
  const progress = (totals: readonly number[]): TrainProgress => ({
    epoch: completed,
    batch: batchesDone,
    step,
    rng: batchesDone ? rngAtEpochStart : rng.state(),
    totals: batchesDone ? [...totals] : [0, 0, 0, 0],
    pending: { sum: windowSum, steps: windowSteps, lastRead },
  });
  const stepsPerEpoch = Math.ceil(data.train.count / batchSize);
  const history: TrainHistory = {
    losses: [],
    epochs: [],
    stopped: false,
    progress: progress([]),
    [JUPYTER_DISPLAY]: () => ({
      "text/plain":
        history.epochs.map((m) =>
          `epoch ${m.epoch}: train loss ${m.train_loss.toFixed(4)}, test accuracy ${
            m.test_accuracy.toFixed(4)
          }`
        ).join("\n") || `${history.losses.length} losses logged`,
      "text/html": historyHtml(history.losses, history.epochs, stepsPerEpoch),
    }),
  };
  /** Waits for the device, then stops the run on a device error or a non-finite loss. */
  const check = async () => {
    const sums = await readTotals(device, totals, ring);
    checkGpu(model.gpu);
    for (let s = checked + 1; s <= step; s++) {
      const loss = sums.ring[s % ring];
      if (!Number.isFinite(loss)) {
        throw Object.assign(
          new NonFiniteError(
            `the training loss became ${loss} at step ${s} (epoch ${epoch}); the weights are no longer finite (a learning rate of ${optimizer.lr} may be too high)`,
            s,
          ),
          { history },
        );
      }
    }
    checked = step;
    return sums;
  };
  try {
    const split = uploadSplit(device, data.train);
    resident.push(split);
    const test = data.test ? uploadSplit(device, data.test) : undefined;
    if (test) resident.push(test);
    const steps = await passSteps(
      model,
      split,
      batchSize,
      { window, totals, ring },
      "train",
      () => [update],
    );
    for (epoch = epoch + 1; epoch <= epochs && !history.stopped; epoch++) {
      rngAtEpochStart = rng.state();
      setOrder(device, split, permutation(split.count, rng));
      // A run resumed in the middle of an epoch skips the batches done, with their sums restored.
      const skip = resume && epoch === resume.epoch + 1 ? resume.batch : 0;
      if (skip) device.queue.writeBuffer(totals, 0, Float32Array.from(resume!.totals));
      else {
        resetTotals(device, totals);
        lastRead = 0;
      }
      batchesDone = skip;
      const t0 = performance.now();
      let images = 0;
      for (const [b, { start, dispatches }] of steps.entries()) {
        if (b < skip) continue;
        step++;
        batchesDone++;
        device.queue.writeBuffer(window, 0, new Uint32Array([start, step % ring]));
        optimizer.beginStep(device);
        runner.submit(dispatches);
        windowSteps++;
        images += Math.min(batchSize, split.count - start);
        const event: StepEvent = {
          epoch,
          step,
          batch: b + 1,
          batches: steps.length,
          images,
          seconds: 0,
        };
        if (step % logEvery === 0) {
          const { batchLossSum } = await check();
          windowSum += batchLossSum - lastRead;
          lastRead = batchLossSum;
          event.loss = windowSum / windowSteps;
          history.losses.push({ step, loss: event.loss });
          windowSum = windowSteps = 0;
        } else if (step % syncEvery === 0) {
          await check();
        }
        event.seconds = (performance.now() - t0) / 1000;
        await options.onStep?.(event);
        if (options.signal?.aborted) {
          history.stopped = true;
          break;
        }
      }
      if (history.stopped) break;
      const sums = await check();
      batchesDone = 0;
      completed = epoch;
      const trainSeconds = (performance.now() - t0) / 1000;
      windowSum += sums.batchLossSum - lastRead;
      const result = test
        ? await evaluateResident(model, test, { batchSize: evalBatchSize })
        : { loss: NaN, accuracy: NaN, seconds: 0 };
      const metrics: EpochMetrics = {
        epoch,
        train_loss: sums.lossSum / sums.images,
        train_accuracy: sums.correct / sums.images,
        test_loss: result.loss,
        test_accuracy: result.accuracy,
        train_seconds: trainSeconds,
        eval_seconds: result.seconds,
        images_per_second: sums.images / trainSeconds,
      };
      history.epochs.push(metrics);
      await options.onEpoch?.(metrics, progress([]));
      if (options.signal?.aborted) history.stopped = true;
    }
    // An interrupted epoch's steps are checked too: weights saved after a stop must be finite.
    const last = await check();
    if (windowSteps > 0 && !history.stopped) {
      history.losses.push({ step, loss: windowSum / windowSteps });
      windowSum = windowSteps = 0;
    }
    history.progress = progress(TOTALS.map((name) => last[name]));
  } finally {
    totals.destroy();
    window.destroy();
    resident.forEach(destroySplit);
    if (ownsOptimizer) optimizer.dispose();
  }
  return history;
}

/**
 * One step on a batch you supply (Keras' `train_on_batch`): forward, mean cross-entropy,
 * backward, and the optimiser's update when one is given (without one, only the gradients are
 * computed, like `loss.backward()`). Returns the batch's mean loss.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Adam, lenet5, Model, requestGpu, trainOnBatch } from "../../mod.ts";
 * const model = new Model(await requestGpu(), lenet5());
 * const images = new Float32Array(4 * 28 * 28).fill(0.5), labels = [0, 1, 2, 3];
 * const optimizer = new Adam({ lr: 1e-2 });
 * const first = await trainOnBatch(model, images, labels, optimizer);
 * for (let i = 0; i < 20; i++) await trainOnBatch(model, images, labels, optimizer);
 * assert.ok(first > 2 && first < 2.6); // about ln 10 at the start
 * optimizer.dispose();
 * model.dispose();
 * ```
 */
export async function trainOnBatch(
  model: Model,
  images: Float32Array,
  labels: ArrayLike<number>,
  optimizer?: Optimizer,
): Promise<number> {
  const n = labels.length;
  if (n === 0) throw new RangeError("trainOnBatch: the batch is empty");
  checkLabels(labels, model.classes, "trainOnBatch");
  const per = sizeOf(model.inputShape);
  if (images.length !== n * per) {
    throw new RangeError(
      `trainOnBatch: ${images.length} floats for ${n} labels, expected ${n * per}`,
    );
  }
  return await exclusive(model, "trainOnBatch", async () => {
    const device = model.gpu.device;
    const runner = KernelRunner.for(device);
    const plan = await model.plan(n, "train");
    const dispatches = await runner.prepareAll(stepCalls([
      ...plan.forward,
      ...plan.loss,
      ...plan.backward,
      ...(optimizer ? [optimizer.attach(model)] : []),
    ]));
    writeBytes(device, plan.x, 0, images);
    writeBytes(device, plan.labels, 0, Uint32Array.from(labels));
    optimizer?.beginStep(device);
    runner.submit(dispatches);
    const rowLoss = await readFloats(device, plan.rowLoss, 0, n);
    checkGpu(model.gpu);
    return rowLoss.reduce((a, b) => a + b, 0) / n;
  });
}
