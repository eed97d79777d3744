// One call of `train`: the run's device buffers, its shuffling generator, the counters that make
// it resumable, and its loop of epochs and steps.
import { uniformBuffer } from "../gpu/buffers.ts";
import { KernelRunner } from "../gpu/kernel_runner.ts";
import { DEFAULTS } from "../defaults.ts";
import { permutation, Random } from "../random.ts";
import { destroySplit, type DeviceSplit, setOrder, uploadSplit } from "./device_data.ts";
import { evaluateResident } from "./evaluator.ts";
import type { Model } from "./model.ts";
import { Adam, type Optimizer } from "./optimizer.ts";
import { compilePass, passSteps } from "./pass.ts";
import type { PlanOp } from "./plan.ts";
import {
  readTotals,
  resetTotals,
  snapshotTotals,
  TOTALS,
  totalsBuffer,
  type TotalsSnapshot,
} from "./totals.ts";
import { scheduledLr } from "./schedule.ts";
import { optimizerOf, RECIPES } from "./recipe.ts";
import { checkGpu } from "../gpu/device.ts";
import { historyHtml, JUPYTER_DISPLAY } from "../view/html.ts";
import { NonFiniteError } from "../../errors.ts";
import type {
  EpochMetrics,
  StepEvent,
  TrainData,
  TrainHistory,
  TrainOptions,
  TrainProgress,
} from "./train_types.ts";

/** The loop's settings, validated. */
export interface LoopSettings {
  epochs: number;
  batchSize: number;
  logEvery: number;
  syncEvery: number;
}

export async function trainLoop(
  model: Model,
  data: TrainData,
  options: TrainOptions,
  settings: LoopSettings,
): Promise<TrainHistory> {
  const run = new TrainRun(model, data, options, settings);
  try {
    return await run.run();
  } finally {
    run.dispose();
  }
}

/**
 * One call of {@linkcode train}: its device buffers, the shuffling generator, and the counters
 * that make a run resumable (step, epoch, batches done, the loss window not logged yet).
 */
class TrainRun {
  readonly history: TrainHistory;
  #model: Model;
  #data: TrainData;
  #options: TrainOptions;
  #settings: LoopSettings;
  #optimizer: Optimizer;
  #ownsOptimizer: boolean;
  /**
   * The ops every training step ends with, after the backward pass: the optimiser's update. A
   * new per-step op (a moving average of the weights, say) joins this list.
   */
  #afterStep: PlanOp[];
  #evalBatchSize: number;
  /** The optimiser's own rate, which a schedule scales from (restored at the end). */
  #baseLr: number;
  #device: GPUDevice;
  // Every step's loss lands in a ring of `syncEvery` slots, copied at each sync point and checked
  // at the next: a NaN is caught within two sync points and named to the step, and the queue never
  // runs dry for it.
  #totals: GPUBuffer;
  /** The copy taken at the last sync point, not checked yet, and its step. */
  #pending: { step: number; snapshot: TotalsSnapshot } | null = null;
  #window: GPUBuffer;
  #resident: DeviceSplit[] = [];
  #rng: Random;
  #rngAtEpochStart: number[];
  #step: number;
  #checked: number;
  #epoch: number;
  #completed: number;
  #batchesDone = 0;
  #windowSum: number;
  #windowSteps: number;
  #lastRead: number;

  constructor(model: Model, data: TrainData, options: TrainOptions, settings: LoopSettings) {
    this.#model = model;
    this.#data = data;
    this.#options = options;
    this.#settings = settings;
    this.#device = model.gpu.device;
    const recipe = options.recipe && RECIPES[options.recipe];
    this.#optimizer = options.optimizer ?? (recipe ? optimizerOf(recipe) : new Adam());
    this.#ownsOptimizer = options.optimizer === undefined;
    this.#afterStep = [this.#optimizer.attach(model)];
    this.#baseLr = this.#optimizer.lr;
    this.#evalBatchSize = options.evalBatchSize ??
      Math.min(Math.max(settings.batchSize, DEFAULTS.evalBatchSize), model.maxBatchSize("eval"));
    this.#totals = totalsBuffer(this.#device, "train totals", settings.syncEvery);
    this.#window = uniformBuffer(this.#device, "train window");
    const resume = options.resume;
    this.#rng = resume ? Random.fromState(resume.rng) : new Random(options.seed ?? DEFAULTS.seed);
    this.#rngAtEpochStart = this.#rng.state();
    this.#step = this.#checked = resume?.step ?? 0;
    this.#epoch = this.#completed = resume?.epoch ?? 0;
    this.#windowSum = resume?.pending.sum ?? 0;
    this.#windowSteps = resume?.pending.steps ?? 0;
    this.#lastRead = resume?.pending.lastRead ?? 0;
    const stepsPerEpoch = Math.ceil(data.train.count / settings.batchSize);
    const history: TrainHistory = {
      losses: [],
      epochs: [],
      stopped: false,
      progress: this.#progress([]),
      notes: [],
      [JUPYTER_DISPLAY]: () => ({
        "text/plain":
          history.epochs.map((m) =>
            `epoch ${m.epoch}: train loss ${m.train_loss.toFixed(4)}, ${
              m.val_accuracy === undefined
                ? ""
                : `validation accuracy ${m.val_accuracy.toFixed(4)}, `
            }test accuracy ${m.test_accuracy.toFixed(4)}`
          ).join("\n") || `${history.losses.length} losses logged`,
        "text/html": historyHtml(history.losses, history.epochs, stepsPerEpoch),
      }),
    };
    this.history = history;
  }

  #note(note: string): void {
    this.history.notes.push(note);
    this.#options.onNote?.(note);
  }

  /** Where the run stands, for resuming: `totals` are the unfinished epoch's running sums. */
  #progress(totals: readonly number[]): TrainProgress {
    const mid = this.#batchesDone > 0;
    return {
      epoch: this.#completed,
      batch: this.#batchesDone,
      step: this.#step,
      rng: mid ? this.#rngAtEpochStart : this.#rng.state(),
      totals: mid ? [...totals] : [0, 0, 0, 0],
      pending: { sum: this.#windowSum, steps: this.#windowSteps, lastRead: this.#lastRead },
    };
  }

  /** Waits for the device, then stops the run on a device error or a non-finite loss. */
  async #check() {
    // This read comes after the pending copy in the queue and covers its steps.
    this.#pending?.snapshot.cancel();
    this.#pending = null;
    const sums = await readTotals(this.#device, this.#totals, this.#settings.syncEvery);
    checkGpu(this.#model.gpu);
    this.#checkLosses(sums.ring, this.#step);
    return sums;
  }

  /**
   * {@linkcode #check} one sync point behind: copies the totals as they stand after this step,
   * then checks the copy taken at the last sync point, which the device has made long before it
   * runs out of queued steps (a wait for this step's would let the queue run dry, ~12 ms each).
   */
  async #checkBehind() {
    const previous = this.#pending;
    const snapshot = snapshotTotals(this.#device, this.#totals, this.#settings.syncEvery);
    this.#pending = { step: this.#step, snapshot };
    if (!previous) return;
    const sums = await previous.snapshot.totals;
    checkGpu(this.#model.gpu);
    this.#checkLosses(sums.ring, previous.step);
  }

  /**
   * Throws a {@linkcode NonFiniteError} naming the first unchecked step up to `last` whose loss
   * in `ring` is not finite.
   */
  #checkLosses(ring: Float32Array, last: number) {
    for (let s = this.#checked + 1; s <= last; s++) {
      const loss = ring[s % ring.length];
      if (!Number.isFinite(loss)) {
        throw Object.assign(
          new NonFiniteError(
            `the training loss became ${loss} at step ${s} (epoch ${this.#epoch}); the weights are no longer finite (a learning rate of ${this.#optimizer.lr} may be too high)`,
            s,
          ),
          { history: this.history },
        );
      }
    }
    this.#checked = last;
  }

  /** Every epoch, then a last check (an interrupted epoch's weights must be finite too). */
  async run(): Promise<TrainHistory> {
    const { history } = this;
    const split = uploadSplit(this.#device, this.#data.train);
    this.#resident.push(split);
    const test = this.#data.test ? uploadSplit(this.#device, this.#data.test) : undefined;
    if (test) this.#resident.push(test);
    const validation = this.#data.validation
      ? uploadSplit(this.#device, this.#data.validation)
      : undefined;
    if (validation) this.#resident.push(validation);
    const { batchSize, syncEvery: ring, epochs } = this.#settings;
    const buffers = { window: this.#window, totals: this.#totals, ring };
    this.#options.onPhase?.(`compiling the training step's kernels (batch ${batchSize})`);
    const steps = await passSteps(
      this.#model,
      split,
      batchSize,
      buffers,
      "train",
      () => this.#afterStep,
      { labelSmoothing: this.#options.labelSmoothing, augment: this.#options.augment },
    );
    const left = split.count - steps.reduce((n, step) => n + step.plan.batch, 0);
    if (left > 0) {
      this.#note(
        `each epoch leaves out its last batch of ${left} image${
          left === 1 ? "" : "s"
        }: a BatchNorm needs more than one value per channel in training`,
      );
    }
    if (test || validation) {
      this.#options.onPhase?.(
        `compiling the evaluation's kernels (batch ${this.#evalBatchSize})`,
      );
    }
    for (const held of [test, validation]) {
      if (held) await compilePass(this.#model, held, this.#evalBatchSize, "eval");
    }
    for (this.#epoch++; this.#epoch <= epochs && !history.stopped; this.#epoch++) {
      this.#options.onPhase?.(`training epoch ${this.#epoch}`);
      const t0 = performance.now();
      await this.#epochSteps(split, steps, t0);
      if (history.stopped) break;
      await this.#endEpoch({ test, validation }, t0);
    }
    const last = await this.#check();
    if (this.#windowSteps > 0 && !history.stopped) {
      history.losses.push({ step: this.#step, loss: this.#windowSum / this.#windowSteps });
      this.#windowSum = this.#windowSteps = 0;
    }
    history.progress = this.#progress(TOTALS.map((name) => last[name]));
    return history;
  }

  /** One epoch's steps (a resumed epoch skips the batches done, with their sums restored). */
  async #epochSteps(split: DeviceSplit, steps: Awaited<ReturnType<typeof passSteps>>, t0: number) {
    const device = this.#device, resume = this.#options.resume;
    const { batchSize, logEvery, syncEvery } = this.#settings;
    this.#rngAtEpochStart = this.#rng.state();
    setOrder(device, split, permutation(split.count, this.#rng));
    const skip = resume && this.#epoch === resume.epoch + 1 ? resume.batch : 0;
    if (skip) device.queue.writeBuffer(this.#totals, 0, Float32Array.from(resume!.totals));
    else {
      resetTotals(device, this.#totals);
      this.#lastRead = 0;
    }
    this.#batchesDone = skip;
    const runner = KernelRunner.for(device);
    let images = 0;
    for (const [b, { start, dispatches }] of steps.entries()) {
      if (b < skip) continue;
      // A signal already aborted (before the call, or during the last epoch's report) takes
      // no step.
      if (this.#options.signal?.aborted) {
        this.history.stopped = true;
        return;
      }
      this.#step++;
      this.#batchesDone++;
      // The batch's first index, its loss's ring slot, and the step (the augmentation's counter).
      const window = new Uint32Array([start, this.#step % syncEvery, this.#step, 0]);
      device.queue.writeBuffer(this.#window, 0, window);
      // Dropout's masks: drawn from the run's seed and the step's number, so a resumed run
      // draws what the uninterrupted one would have.
      this.#model.setNoise(this.#options.seed ?? DEFAULTS.seed, this.#step);
      const schedule = this.#options.schedule;
      if (schedule) {
        const total = this.#settings.epochs * steps.length;
        this.#optimizer.lr = scheduledLr(schedule, this.#baseLr, this.#step - 1, total);
      }
      this.#optimizer.beginStep(device);
      runner.submit(dispatches);
      this.#windowSteps++;
      images += Math.min(batchSize, split.count - start);
      const event: StepEvent = {
        epoch: this.#epoch,
        step: this.#step,
        batch: b + 1,
        batches: steps.length,
        images,
        seconds: 0,
      };
      if (this.#step % logEvery === 0) event.loss = await this.#logLoss();
      else if (this.#step % syncEvery === 0) await this.#checkBehind();
      event.seconds = (performance.now() - t0) / 1000;
      await this.#options.onStep?.(event);
      if (this.#options.signal?.aborted) {
        this.history.stopped = true;
        return;
      }
    }
  }

  /** The mean loss since the last log point, recorded in the history. */
  async #logLoss(): Promise<number> {
    const { batchLossSum } = await this.#check();
    this.#windowSum += batchLossSum - this.#lastRead;
    this.#lastRead = batchLossSum;
    const loss = this.#windowSum / this.#windowSteps;
    this.history.losses.push({ step: this.#step, loss });
    this.#windowSum = this.#windowSteps = 0;
    return loss;
  }

  /** An epoch's end: its sums read, the validation and test splits evaluated, the metrics reported. */
  async #endEpoch(splits: { test?: DeviceSplit; validation?: DeviceSplit }, t0: number) {
    const { test, validation } = splits;
    const sums = await this.#check();
    this.#batchesDone = 0;
    this.#completed = this.#epoch;
    const trainSeconds = (performance.now() - t0) / 1000;
    this.#windowSum += sums.batchLossSum - this.#lastRead;
    const batchSize = this.#evalBatchSize;
    if (test || validation) this.#options.onPhase?.(`evaluating epoch ${this.#epoch}`);
    const result = test
      ? await evaluateResident(this.#model, test, { batchSize })
      : { loss: NaN, accuracy: NaN, seconds: 0 };
    const held = validation && await evaluateResident(this.#model, validation, { batchSize });
    const metrics: EpochMetrics = {
      epoch: this.#epoch,
      train_loss: sums.lossSum / sums.images,
      train_accuracy: sums.correct / sums.images,
      test_loss: result.loss,
      test_accuracy: result.accuracy,
      ...(held ? { val_loss: held.loss, val_accuracy: held.accuracy } : {}),
      train_seconds: trainSeconds,
      eval_seconds: result.seconds + (held?.seconds ?? 0),
      images_per_second: sums.images / trainSeconds,
    };
    this.history.epochs.push(metrics);
    await this.#options.onEpoch?.(metrics, this.#progress([]));
    if (this.#options.signal?.aborted) this.history.stopped = true;
  }

  /** Frees the run's buffers (and an optimiser it made); a schedule's rate goes back to the base. */
  dispose(): void {
    this.#pending?.snapshot.cancel();
    this.#optimizer.lr = this.#baseLr;
    this.#totals.destroy();
    this.#window.destroy();
    this.#resident.forEach(destroySplit);
    if (this.#ownsOptimizer) this.#optimizer.dispose();
  }
}
