/**
 * lenet-webgpu: LeNet-5 on Fashion-MNIST, trained and run with hand-written WGSL compute kernels
 * through WebGPU (`navigator.gpu`) — in Deno, the Deno Jupyter kernel or a browser.
 *
 * This module is what a user needs: the device, the network and its layers, the model, the
 * optimisers, training, tuning, evaluation and inspection, the data, checkpoints and ONNX export,
 * the charts and the errors.
 * Everything under them (the layer contract, the kernel candidates and their tuning, the step
 * plan, kernels and their runner, the HTML views, raw file codecs) is in `./engine`.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { evaluate, lenet5, Model, requestGpu, splitFromArrays, train } from "./mod.ts";
 *
 * // A tiny dataset for the example; `await loadFashionMnist()` gives the real one.
 * const images = Uint8Array.from({ length: 64 * 28 * 28 }, (_, k) => (k * 7) % 256);
 * const labels = Uint8Array.from({ length: 64 }, (_, k) => k % 10);
 * const split = splitFromArrays(images, labels, 28, 28);
 *
 * const model = new Model(await requestGpu(), lenet5({ activation: "relu", pool: "max" }));
 * const history = await train(model, { train: split }, { epochs: 1, batchSize: 16 });
 * assert.equal(history.epochs.length, 1);
 * const { accuracy } = await evaluate(model, split);
 * assert.ok(accuracy >= 0 && accuracy <= 1);
 * model.dispose();
 * ```
 *
 * @module
 */

export { DEFAULTS } from "./lib/defaults.ts";

// The device.
export { describeGpu, type Gpu, type GpuOptions, requestGpu } from "./lib/gpu/device.ts";

// The network and its layers (PyTorch's semantics, layouts and initialisation).
export { lenet5, type LeNetOptions } from "./lib/nn/lenet.ts";
export { summary } from "./lib/nn/summary.ts";
export { Sequential } from "./lib/nn/sequential.ts";
export { Conv2d } from "./lib/nn/conv2d.ts";
export { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from "./lib/nn/pool.ts";
export { GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Tanh } from "./lib/nn/activation.ts";
export { Linear } from "./lib/nn/linear.ts";
export { Flatten } from "./lib/nn/flatten.ts";
export { BatchNorm1d, BatchNorm2d } from "./lib/nn/batchnorm.ts";
export { Dropout } from "./lib/nn/dropout.ts";
export { buildNetwork, describe, type NetworkDescription } from "./lib/nn/network.ts";

// The model, training, tuning and evaluation.
export { Model, type ModelOptions } from "./lib/train/model.ts";
export {
  Adam,
  type AdamOptions,
  AdamW,
  type Optimizer,
  SGD,
  type SgdOptions,
} from "./lib/train/optimizer.ts";
export {
  type EpochMetrics,
  train,
  type TrainData,
  type TrainHistory,
  trainOnBatch,
  type TrainOptions,
  type TrainProgress,
} from "./lib/train/trainer.ts";
export { type EvalOptions, type EvalResult, evaluate } from "./lib/train/evaluator.ts";
export { tune, type TuneLevel, type TuningStore } from "./lib/train/tune.ts";
export { confidentMistakes, inspect } from "./lib/train/inspect.ts";

// Checkpoints, ONNX and charts.
export { type Architecture, loadCheckpoint, saveCheckpoint } from "./lib/io/checkpoint.ts";
export { lossChartSvg } from "./lib/view/chart.ts";
export { confusionMatrixSvg } from "./lib/view/confusion_svg.ts";
export { exportOnnx } from "./lib/io/onnx.ts";

// Data: the Fashion-MNIST files found (or downloaded) in Deno, fetched from a URL in a browser.
export { FASHION_MNIST } from "./data/spec.ts";
export { head, type ImageDataset, type Split, splitFromArrays } from "./data/dataset.ts";
export { fetchIdxDataset } from "./data/download.ts";
export { loadFashionMnist, loadIdxDataset, type LoadOptions } from "./deno/locate.ts";

// Errors a caller may want to tell apart.
export {
  DataError,
  DeviceLimitError,
  GpuFaultError,
  ModelBusyError,
  NonFiniteError,
} from "./errors.ts";
export { WebGpuUnavailableError } from "./lib/gpu/device.ts";
