/**
 * Evaluation on the device: batches are gathered from the resident split, and the loss and
 * correct-count sums stay on the device until one read at the end. With `predictions`, each
 * image's logits are copied aside on the device and read once at the end.
 *
 * @module
 */
import type { Split } from "../../data/dataset.ts";
import { readFloats, storageBuffer, uniformBuffer } from "../gpu/buffers.ts";
import { KernelRunner } from "../gpu/kernel_runner.ts";
import { DEFAULTS } from "../defaults.ts";
import { destroySplit, type DeviceSplit, uploadSplit } from "./device_data.ts";
import type { Model } from "./model.ts";
import { passSteps } from "./pass.ts";
import { readTotals, totalsBuffer } from "./totals.ts";
import { checkSplit, exclusive } from "./_guards.ts";
import { checkGpu } from "../gpu/device.ts";
import { confusionMatrixSvg } from "../view/confusion_svg.ts";
import { JUPYTER_DISPLAY, type MediaBundle, predictionGridHtml } from "../view/html.ts";

/** Per-image results of an evaluation, in split order. */
export interface Predictions {
  /** Predicted class of each image (the first arg-max of its logits). */
  classes: Uint32Array;
  /** Logits, `count × classes`. */
  logits: Float32Array;
}

/** Test loss and accuracy. */
export interface EvalResult {
  /** Mean cross-entropy. */
  loss: number;
  /** Fraction of images whose arg-max is the label. */
  accuracy: number;
  /** Images evaluated. */
  count: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** Per-image results, when asked for. */
  predictions?: Predictions;
  /**
   * With `predictions`: counts of (true class, predicted class), rows true, as
   * {@linkcode confusionMatrix} computes them; all NaN when the logits are not finite.
   */
  confusionMatrix?: number[][];
  /** With `predictions`: each class's accuracy (the diagonal over the row sum; NaN for none). */
  perClassAccuracy?: number[];
  /**
   * What a notebook shows: loss and accuracy, and with `predictions` the confusion matrix and
   * the first test images with their true and predicted classes.
   */
  [JUPYTER_DISPLAY]?: () => MediaBundle;
}

/**
 * Counts of (true class, predicted class): `matrix[label][predicted]`, rows true, as
 * `sklearn.metrics.confusion_matrix` lays it out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { confusionMatrix, perClassAccuracy } from "./evaluator.ts";
 * const m = confusionMatrix(Uint32Array.of(0, 1, 1, 2), [0, 1, 2, 2], 3);
 * assert.deepEqual(m, [[1, 0, 0], [0, 1, 0], [0, 1, 1]]);
 * assert.deepEqual(perClassAccuracy(m), [1, 1, 0.5]);
 * ```
 */
export function confusionMatrix(
  predicted: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): number[][] {
  if (predicted.length !== labels.length) {
    throw new RangeError(`${predicted.length} predictions for ${labels.length} labels`);
  }
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predicted[i]]++;
  return m;
}

/** Each class's accuracy from a confusion matrix: the diagonal over the row sum (NaN when empty). */
export function perClassAccuracy(matrix: readonly (readonly number[])[]): number[] {
  return matrix.map((row, k) => row[k] / row.reduce((a, b) => a + b, 0));
}

/** Options of {@linkcode evaluate}. */
export interface EvalOptions {
  /** Images per batch (results do not depend on it); default 256, or the most that fits. */
  batchSize?: number;
  /** Also return every image's logits and predicted class, and the confusion matrix. */
  predictions?: boolean;
  /** Class names for the display (default the class numbers). */
  classNames?: readonly string[];
}

/**
 * Mean loss and accuracy of `model` on `split`, in file order; with `predictions`, every image's
 * logits and predicted class too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluate, lenet5, Model, requestGpu, splitFromArrays } from "../../mod.ts";
 * const split = splitFromArrays(new Uint8Array(3 * 28 * 28), Uint8Array.of(0, 1, 2), 28, 28);
 * const model = new Model(await requestGpu(), lenet5());
 * const result = await evaluate(model, split, { predictions: true });
 * assert.equal(result.count, 3);
 * assert.equal(result.predictions!.classes.length, 3);
 * model.dispose();
 * ```
 */
export async function evaluate(
  model: Model,
  split: Split,
  options: EvalOptions = {},
): Promise<EvalResult> {
  checkSplit(split, model.classes, "evaluate");
  return await exclusive(model, "evaluate", async () => {
    const t0 = performance.now();
    const data = uploadSplit(model.gpu.device, split);
    try {
      const result = await evaluateResident(model, data, options);
      if (result.predictions) {
        // NaN logits (NaN weights) predict no class: no count and no accuracy is made of them.
        const k = model.classes;
        result.confusionMatrix = Number.isFinite(result.loss)
          ? confusionMatrix(result.predictions.classes, split.labels, k)
          : Array.from({ length: k }, () => new Array<number>(k).fill(NaN));
        result.perClassAccuracy = perClassAccuracy(result.confusionMatrix);
      }
      const names = options.classNames ??
        Array.from({ length: model.classes }, (_, k) => String(k));
      return {
        ...result,
        seconds: (performance.now() - t0) / 1000,
        [JUPYTER_DISPLAY]: () => evaluationBundle(result, split, names),
      };
    } finally {
      destroySplit(data);
    }
  });
}

/** {@linkcode evaluate} on a split already on the device (the trainer's test split). */
export async function evaluateResident(
  model: Model,
  data: DeviceSplit,
  options: EvalOptions = {},
): Promise<EvalResult> {
  const t0 = performance.now();
  const device = model.gpu.device;
  const totals = totalsBuffer(device, "eval totals");
  const window = uniformBuffer(device, "eval window");
  const owned = [totals, window];
  try {
    const classes = model.classes;
    // With predictions, each batch's logits are copied aside on the device and read once.
    const logits = options.predictions
      ? storageBuffer(device, data.count * classes * 4, "all logits")
      : null;
    if (logits) owned.push(logits);
    // Results do not depend on the batch size: by default, the largest that fits up to 256.
    const batchSize = options.batchSize ??
      Math.min(DEFAULTS.evalBatchSize, model.maxBatchSize("eval"));
    const steps = await passSteps(model, data, batchSize, { window, totals }, "eval");
    for (const { start, plan, dispatches } of steps) {
      device.queue.writeBuffer(window, 0, new Uint32Array([start]));
      const encoder = device.createCommandEncoder();
      KernelRunner.record(encoder, dispatches);
      if (logits) {
        const bytes = plan.batch * classes * 4;
        encoder.copyBufferToBuffer(plan.logits, 0, logits, start * classes * 4, bytes);
      }
      device.queue.submit([encoder.finish()]);
    }
    const sums = await readTotals(device, totals);
    checkGpu(model.gpu);
    const loss = sums.lossSum / sums.images;
    const result: EvalResult = {
      loss,
      // Logits with NaN (diverged or NaN weights) make no accuracy: never a finite number from NaN.
      accuracy: Number.isFinite(loss) ? sums.correct / sums.images : NaN,
      count: sums.images,
      seconds: 0,
    };
    if (logits) {
      const all = await readFloats(device, logits, 0, data.count * classes);
      result.predictions = { classes: firstArgmax(all, classes), logits: all };
    }
    result.seconds = (performance.now() - t0) / 1000;
    return result;
  } finally {
    for (const b of owned) b.destroy();
  }
}

/** How many test images the notebook display shows. */
const GRID_IMAGES = 32;

function evaluationBundle(result: EvalResult, split: Split, names: readonly string[]): MediaBundle {
  const line = `test loss ${result.loss.toFixed(4)}, test accuracy ${
    result.accuracy.toFixed(4)
  } on ${result.count} images`;
  if (!result.predictions || !result.confusionMatrix) return { "text/plain": line };
  const n = Math.min(GRID_IMAGES, result.count), px = split.rows * split.cols;
  const grid = predictionGridHtml(
    split.images.subarray(0, n * px),
    split.rows,
    split.cols,
    split.labels.subarray(0, n),
    result.predictions.classes.subarray(0, n),
    names,
  );
  return {
    "text/plain": line,
    "text/html": `<p>${line}</p>${
      confusionMatrixSvg(result.confusionMatrix, names)
    }<p>the first ${n} test images (predicted, and the true class when wrong):</p>${grid}`,
  };
}

/** Each row's first maximum (as `argmax(dim=1)`, and as the loss kernel counts correctness). */
function firstArgmax(logits: Float32Array, classes: number): Uint32Array {
  const out = new Uint32Array(logits.length / classes);
  for (let n = 0; n < out.length; n++) {
    let arg = 0;
    for (let k = 1; k < classes; k++) {
      if (logits[n * classes + k] > logits[n * classes + arg]) arg = k;
    }
    out[n] = arg;
  }
  return out;
}
