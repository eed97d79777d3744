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
import { compilePass, passSteps } from "./pass.ts";
import { type PlanOp, stepCalls } from "./plan.ts";
import {
  readTotals,
  resetTotals,
  snapshotTotals,
  TOTALS,
  totalsBuffer,
  type TotalsSnapshot,
} from "./totals.ts";
import { checkSchedule, type LrSchedule, scheduledLr } from "./schedule.ts";
import type { Augment } from "../../kernels/batch.ts";
import {
  augmentOf,
  optimizerOf,
  RECIPE_NAMES,
  type RecipeName,
  RECIPES,
  scheduleOf,
} from "./recipe.ts";
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
  /** Mean loss on the validation split (absent without one). */
  val_loss?: number;
  /** Accuracy on the validation split (absent without one). */
  val_accuracy?: number;
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
  /** What the run changed and why (e.g. a last batch too small for BatchNorm, left out). */
  notes: string[];
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
  /**
   * Check the device every this many steps (the losses and errors up to the check point before,
   * so the queue never runs dry): progress, timing and a NaN loss lag it by at most twice this;
   * default 10.
   */
  syncEvery?: number;
  /** Called after each step (with `loss` at log points). */
  onStep?: (event: StepEvent) => void | Promise<void>;
  /** Called after each epoch. */
  onEpoch?: (metrics: EpochMetrics, progress: TrainProgress) => void | Promise<void>;
  /** Called with each note as the run makes it (see `TrainHistory.notes`). */
  onNote?: (note: string) => void;
  /** Stops training after the current step. */
  signal?: AbortSignal;
  /**
   * Continue a run from its `progress` (the model and optimiser restored to the same point);
   * `epochs` is then the total, counting the epochs already done.
   */
  resume?: TrainProgress;
  /**
   * The learning rate per step (`torch.optim.lr_scheduler`'s, stepped every batch) from the
   * optimiser's rate; default constant. See `schedule.ts`.
   */
  schedule?: LrSchedule;
  /** `CrossEntropyLoss(label_smoothing=ε)`'s ε for the training loss, default 0. */
  labelSmoothing?: number;
  /**
   * A recipe's settings for what is not given (`lib/train/recipe.ts`): its epochs, batch size,
   * optimiser (made and freed by this call), schedule, label smoothing and augmentation (seeded
   * by `seed`). The network's activation and pooling, and a validation split (`holdOut`), are
   * the caller's to choose from `RECIPES[name]`.
   */
  recipe?: RecipeName;
  /**
   * Augmentation of the training images on the device, inside the batch gather (random crop,
   * flip, erasing; see `kernels/batch.ts`); its draws follow from (seed, step, image), so a
   * resumed run draws what the uninterrupted one would. Default none.
   */
  augment?: Augment;
  /** Evaluation batch size (results do not depend on it), default the larger of 256 and the training batch size. */
  evalBatchSize?: number;
}

/** The training split, and the (optional) validation and test splits. */
export interface TrainData {
  /** Training images. */
  train: Split;
  /** Validation images (held out of the training ones, see `holdOut`), evaluated after each epoch. */
  validation?: Split;
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
function withRecipe(options: TrainOptions): TrainOptions {
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
function checkAugment(a: Augment, split: Split): void {
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

/** The loop's settings, validated. */
interface LoopSettings {
  epochs: number;
  batchSize: number;
  logEvery: number;
  syncEvery: number;
}

async function trainLoop(
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
  #update: PlanOp;
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
    this.#update = this.#optimizer.attach(model);
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
    const steps = await passSteps(
      this.#model,
      split,
      batchSize,
      buffers,
      "train",
      () => [this.#update],
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
    for (const held of [test, validation]) {
      if (held) await compilePass(this.#model, held, this.#evalBatchSize, "eval");
    }
    for (this.#epoch++; this.#epoch <= epochs && !history.stopped; this.#epoch++) {
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
    model.setNoise(DEFAULTS.seed, model.noiseStep + 1);
    optimizer?.beginStep(device);
    runner.submit(dispatches);
    const rowLoss = await readFloats(device, plan.rowLoss, 0, n);
    checkGpu(model.gpu);
    return rowLoss.reduce((a, b) => a + b, 0) / n;
  });
}
