/**
 * What the network has learned, and what it makes of one picture: its convolution filters, the
 * feature maps of one image after each convolution (with its activation) and each pooling, and a
 * saliency map — the gradient of the predicted class's logit with respect to the input, computed
 * on the device by the step plan's own backward pass (`saliency` mode). And the test images the
 * model gets most confidently wrong. Each result displays itself in Jupyter and draws as SVG
 * (`lib/view/inspect_svg.ts`).
 *
 * @module
 */
import type { Split } from "../../data/dataset.ts";
import { checkGpu } from "../gpu/device.ts";
import { readFloats, writeBytes } from "../gpu/buffers.ts";
import { KernelRunner } from "../gpu/kernel_runner.ts";
import { sizeOf, type Tensor } from "../tensor.ts";
import { JUPYTER_DISPLAY, type MediaBundle } from "../view/html.ts";
import {
  type ClassProbability,
  type FeatureMaps,
  inspectionSvg,
  mistakesSvg,
} from "../view/inspect_svg.ts";
import { exclusive } from "./_guards.ts";
import { evaluate } from "./evaluator.ts";
import type { Model } from "./model.ts";
import { stepCalls } from "./plan.ts";

export type { ClassProbability, FeatureMaps } from "../view/inspect_svg.ts";

/** What {@linkcode inspect} found for one image. */
export interface Inspection {
  /** The input as the model saw it: `side × side` floats (pixels / 255). */
  image: Float32Array;
  /** Side of the input. */
  side: number;
  /** The logits. */
  logits: Float32Array;
  /** The three likeliest classes. */
  top: ClassProbability[];
  /** The class the saliency map explains (the predicted one unless asked otherwise). */
  explained: ClassProbability;
  /** Every convolution's filters, by `state_dict` name (`0.weight` [6, 1, 5, 5], ...). */
  filters: { name: string; weight: Tensor }[];
  /** The feature maps after each convolution (and its activation) and each pooling. */
  featureMaps: FeatureMaps[];
  /** d logit[explained] / d input, `side × side`. */
  saliency: Float32Array;
  /** Jupyter's display: the SVG, and a line of text. */
  [JUPYTER_DISPLAY](): MediaBundle;
}

/** Options of {@linkcode inspect}. */
export interface InspectOptions {
  /** Class names for the labels (default: the indices). */
  classNames?: readonly string[];
  /** The class whose logit the saliency map explains (default: the predicted one). */
  target?: number;
}

/** Softmax of `logits`, as probabilities in double. */
function softmax(logits: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(logits));
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * Inspects the model on one image (`side × side` floats, pixels / 255 as for `model.predict`):
 * filters, feature maps, and the saliency map from the device's backward pass.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu } from "../../mod.ts";
 * import { inspect } from "./inspect.ts";
 * using model = new Model(await requestGpu(), lenet5({ activation: "relu", pool: "max" }));
 * const image = Float32Array.from({ length: 784 }, (_, k) => (k % 28) / 28);
 * const result = await inspect(model, image);
 * assert.deepEqual(result.featureMaps.map((m) => m.shape), [[6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 5, 5]]);
 * assert.equal(result.saliency.length, 784);
 * assert.deepEqual(result.filters.map((f) => f.weight.shape), [[6, 1, 5, 5], [16, 6, 5, 5]]);
 * ```
 */
export async function inspect(
  model: Model,
  image: Float32Array,
  options: InspectOptions = {},
): Promise<Inspection> {
  const per = sizeOf(model.inputShape);
  if (image.length !== per) {
    throw new RangeError(
      `inspect: ${image.length} floats given, an image of [${model.inputShape}] needs ${per}`,
    );
  }
  const target = options.target;
  if (
    target !== undefined && !(Number.isInteger(target) && target >= 0 && target < model.classes)
  ) {
    throw new RangeError(
      `inspect: target ${target} is not a class of the model (0..${model.classes - 1})`,
    );
  }
  return await exclusive(model, "inspect", async () => {
    const device = model.gpu.device;
    const runner = KernelRunner.for(device);
    const plan = await model.plan(1, "saliency");
    writeBytes(device, plan.x, 0, image);
    runner.submit(await runner.prepareAll(stepCalls(plan.forward)));
    const logits = await readFloats(device, plan.logits, 0, model.classes);
    const probabilities = softmax(logits);
    const explainedLabel = target ?? probabilities.indexOf(Math.max(...probabilities));
    // Backward from a one-hot logit gradient: the gradient of that logit alone.
    const dlogits = new Float32Array(model.classes);
    dlogits[explainedLabel] = 1;
    writeBytes(device, plan.tensors.get("dlogits")!.slice.buffer, 0, dlogits);
    runner.submit(await runner.prepareAll(stepCalls(plan.backward)));
    const saliency = await readFloats(device, plan.tensors.get("dx")!.slice.buffer, 0, per);
    const featureMaps: FeatureMaps[] = [];
    for (const op of plan.forward) {
      for (const name of op.outputs) {
        const t = plan.tensors.get(name);
        if (!t || t.shape.length !== 4 || name === "logits") continue;
        const [, c, h, w] = t.shape;
        const data = await readFloats(device, t.slice.buffer, 0, c * h * w);
        // A fused op writes the convolution's (activated) output, then its pooling's.
        const parts = op.layer.split(" + ");
        const layer = name === op.outputs[0]
          ? (op.outputs.length > 1 ? parts.slice(0, -1) : parts).join(" + ")
          : `${name.slice(1)} ${parts.at(-1)}`;
        featureMaps.push({ layer, shape: [c, h, w], data });
      }
    }
    checkGpu(model.gpu);
    const weights = await model.stateDict();
    const filters = Object.entries(weights)
      .filter(([, t]) => t.shape.length === 4)
      .map(([name, weight]) => ({ name, weight }));
    const names = options.classNames ?? [];
    const cls = (label: number): ClassProbability => ({
      label,
      name: names[label] ?? String(label),
      probability: probabilities[label],
    });
    const top = probabilities.map((_, k) => k).sort((a, b) => probabilities[b] - probabilities[a])
      .slice(0, 3).map(cls);
    const result: Inspection = {
      image: image.slice(),
      side: model.inputShape.at(-1)!,
      logits,
      top,
      explained: cls(explainedLabel),
      filters,
      featureMaps,
      saliency,
      [JUPYTER_DISPLAY]: () => ({
        "text/plain": `predicted ${top[0].name} (${(100 * top[0].probability).toFixed(1)}%)`,
        "image/svg+xml": inspectionSvg(result),
      }),
    };
    return result;
  });
}

/** One test image the model got wrong, and how sure it was. */
export interface Mistake {
  /** Index in the split. */
  index: number;
  /** The true class. */
  label: number;
  /** The predicted class. */
  predicted: number;
  /** The model's probability for its (wrong) prediction. */
  confidence: number;
}

/** The most confident mistakes, with the images they are about. */
export interface Mistakes {
  /** The mistakes, most confident first. */
  mistakes: Mistake[];
  /** Their images, `rows × cols` bytes each, in that order. */
  images: Uint8Array;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** Class names. */
  classNames: readonly string[];
  /** Jupyter's display: the images with their true and predicted classes. */
  [JUPYTER_DISPLAY](): MediaBundle;
}

/**
 * The `count` images of `split` the model gets wrong with the highest probability for its
 * prediction: where it is most sure, and wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu, splitFromArrays } from "../../mod.ts";
 * import { confidentMistakes } from "./inspect.ts";
 * using model = new Model(await requestGpu(), lenet5());
 * const images = Uint8Array.from({ length: 40 * 784 }, (_, k) => (k * 31) % 256);
 * const split = splitFromArrays(images, Uint8Array.from({ length: 40 }, (_, k) => k % 10), 28, 28);
 * const { mistakes } = await confidentMistakes(model, split, 5);
 * assert.equal(mistakes.length, 5);
 * assert.ok(mistakes[0].confidence >= mistakes[4].confidence);
 * assert.ok(mistakes.every((m) => m.label !== m.predicted));
 * await assert.rejects(confidentMistakes(model, split, 2.5), /count must be a whole number/);
 * ```
 */
export async function confidentMistakes(
  model: Model,
  split: Split,
  count = 16,
  classNames: readonly string[] = [],
): Promise<Mistakes> {
  if (!(typeof count === "number" && Number.isInteger(count) && count >= 0)) {
    throw new RangeError(
      `confidentMistakes: count must be a whole number of at least 0, got ${count}`,
    );
  }
  const { predictions } = await evaluate(model, split, { predictions: true });
  const { classes, logits } = predictions!;
  const mistakes: Mistake[] = [];
  for (let i = 0; i < split.count; i++) {
    if (classes[i] === split.labels[i]) continue;
    const p = softmax(logits.subarray(i * model.classes, (i + 1) * model.classes));
    mistakes.push({
      index: i,
      label: split.labels[i],
      predicted: classes[i],
      confidence: p[classes[i]],
    });
  }
  mistakes.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  const top = mistakes.slice(0, count);
  const size = split.rows * split.cols;
  const images = new Uint8Array(top.length * size);
  top.forEach((m, k) =>
    images.set(split.images.subarray(m.index * size, (m.index + 1) * size), k * size)
  );
  const result: Mistakes = {
    mistakes: top,
    images,
    rows: split.rows,
    cols: split.cols,
    classNames,
    [JUPYTER_DISPLAY]: () => ({
      "text/plain": `${top.length} most confident mistakes`,
      "image/svg+xml": mistakesSvg(result),
    }),
  };
  return result;
}
