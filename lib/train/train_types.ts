/**
 * The public types of training: its options and data, the events it reports, the history it
 * returns and the progress a run resumes from.
 *
 * @module
 */
import type { Split } from "../../data/dataset.ts";
import type { Optimizer } from "./optimizer.ts";
import type { LrSchedule } from "./schedule.ts";
import type { Augment } from "../../kernels/batch.ts";
import type { RecipeName } from "./recipe.ts";
import type { JUPYTER_DISPLAY, MediaBundle } from "../view/html.ts";

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
  /**
   * Called as the run enters each phase, before it starts: `compiling the training step's
   * kernels (batch 256)`, `compiling the evaluation's kernels (batch 256)`, `training epoch 3`,
   * `evaluating epoch 3`. A compile cannot be interrupted; say what is being waited for.
   */
  onPhase?: (phase: string) => void;
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
