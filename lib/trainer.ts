/**
 * The training loop of the reference program: shuffled batches, forward, cross-entropy,
 * backward and an optimiser step, one command encoder per step. The training set lives on the
 * device; the CPU reads the running loss sums back only at log points and epoch ends.
 *
 * @module
 */
import type { Split } from "../data/dataset.ts";
import { readFloats, storageBuffer, uniformBuffer, writeBytes } from "./buffers.ts";
import { deviceSplit, setOrder } from "./device_data.ts";
import { evaluate, planSteps } from "./evaluator.ts";
import { KernelRunner } from "./kernel_runner.ts";
import type { Model } from "./model.ts";
import { Adam, type Optimizer } from "./optimizer.ts";
import { permutation, Random } from "./random.ts";

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
}

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** Epochs, default 10. */
  epochs?: number;
  /** Batch size, default 256. */
  batchSize?: number;
  /** Optimiser, default `new Adam({ lr: 1e-3 })`. */
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
  onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
  /** Stops training after the current step. */
  signal?: AbortSignal;
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
 * Trains `model` in place and returns the history.
 *
 * @example
 * ```ts ignore
 * import { Adam, lenet5, loadFashionMnist, Model, requestGpu, train } from "../mod.ts";
 * const model = new Model(await requestGpu(), lenet5());
 * const history = await train(model, await loadFashionMnist(), {
 *   epochs: 10,
 *   optimizer: new Adam({ lr: 1e-3 }),
 *   onEpoch: (m) => console.log(m.epoch, m.test_accuracy),
 * });
 * ```
 */
export async function train(
  model: Model,
  data: TrainData,
  options: TrainOptions = {},
): Promise<TrainHistory> {
  const epochs = options.epochs ?? 10;
  const batchSize = options.batchSize ?? 256;
  const logEvery = options.logEvery ?? 100;
  const syncEvery = options.syncEvery ?? 10;
  for (const [name, v] of Object.entries({ epochs, batchSize, logEvery, syncEvery })) {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new RangeError(`train: ${name} must be a positive integer, got ${v}`);
    }
  }
  const device = model.gpu.device;
  const runner = KernelRunner.for(device);
  const optimizer = options.optimizer ?? new Adam();
  const update = optimizer.attach(model);
  const split = deviceSplit(device, data.train);
  const totals = storageBuffer(device, 16, "train totals");
  const window = uniformBuffer(device, "train window");
  const steps = await planSteps(model, split, batchSize, { window, totals }, true, [update]);

  const rng = new Random(options.seed ?? 0);
  const history: TrainHistory = { losses: [], epochs: [], stopped: false };
  let step = 0, windowSum = 0, windowSteps = 0, lastRead = 0;
  try {
    for (let epoch = 1; epoch <= epochs && !history.stopped; epoch++) {
      setOrder(device, split, permutation(split.count, rng));
      device.queue.writeBuffer(totals, 0, new Float32Array(4));
      lastRead = 0;
      const t0 = performance.now();
      let images = 0;
      for (const [b, { start, dispatches }] of steps.entries()) {
        device.queue.writeBuffer(window, 0, new Uint32Array([start]));
        optimizer.beginStep(device);
        runner.submit(dispatches);
        step++;
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
          const meanLoss = (await readFloats(device, totals, 0, 1))[0];
          windowSum += meanLoss - lastRead;
          lastRead = meanLoss;
          event.loss = windowSum / windowSteps;
          history.losses.push({ step, loss: event.loss });
          windowSum = windowSteps = 0;
        } else if (step % syncEvery === 0) {
          await device.queue.onSubmittedWorkDone();
        }
        event.seconds = (performance.now() - t0) / 1000;
        await options.onStep?.(event);
        if (options.signal?.aborted) {
          history.stopped = true;
          break;
        }
      }
      if (history.stopped) break;
      const [meanLoss, lossSum, correct, count] = await readFloats(device, totals);
      const trainSeconds = (performance.now() - t0) / 1000;
      windowSum += meanLoss - lastRead;
      const test = data.test
        ? await evaluate(model, data.test, {
          batchSize: options.evalBatchSize ?? Math.max(batchSize, 256),
        })
        : { loss: NaN, accuracy: NaN, seconds: 0 };
      const metrics: EpochMetrics = {
        epoch,
        train_loss: lossSum / count,
        train_accuracy: correct / count,
        test_loss: test.loss,
        test_accuracy: test.accuracy,
        train_seconds: trainSeconds,
        eval_seconds: test.seconds,
        images_per_second: count / trainSeconds,
      };
      history.epochs.push(metrics);
      await options.onEpoch?.(metrics);
      if (options.signal?.aborted) history.stopped = true;
    }
    if (windowSteps > 0 && !history.stopped) {
      history.losses.push({ step, loss: windowSum / windowSteps });
    }
  } finally {
    totals.destroy();
    window.destroy();
  }
  return history;
}

/**
 * One step on a batch you supply (Keras' `train_on_batch`): forward, mean cross-entropy,
 * backward, and the optimiser's update when one is given (without one, only the gradients are
 * computed, like `loss.backward()`). Returns the batch's mean loss.
 *
 * @example
 * ```ts ignore
 * import { Adam, trainOnBatch } from "../mod.ts";
 * const loss = await trainOnBatch(model, batch.images, batch.labels, new Adam());
 * ```
 */
export async function trainOnBatch(
  model: Model,
  images: Float32Array,
  labels: ArrayLike<number>,
  optimizer?: Optimizer,
): Promise<number> {
  const n = labels.length;
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  if (images.length !== n * per) {
    throw new RangeError(
      `trainOnBatch: ${images.length} floats for ${n} labels, expected ${n * per}`,
    );
  }
  const device = model.gpu.device;
  const runner = KernelRunner.for(device);
  const program = await model.program(n, true);
  const dispatches = await runner.prepareAll([
    ...program.forward,
    ...program.loss,
    ...program.backward,
    ...(optimizer ? [optimizer.attach(model)] : []),
  ]);
  writeBytes(device, program.input, 0, images);
  writeBytes(device, program.labels, 0, Uint32Array.from(labels));
  optimizer?.beginStep(device);
  runner.submit(dispatches);
  const rowLoss = await readFloats(device, program.rowLoss, 0, n);
  return rowLoss.reduce((a, b) => a + b, 0) / n;
}
