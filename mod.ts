/**
 * lenet-webgpu: LeNet-5 on Fashion-MNIST, trained and run with hand-written WGSL compute kernels
 * through WebGPU (`navigator.gpu`) — in Deno, the Deno Jupyter kernel or a browser.
 *
 * This module is what a user needs: the device, the network and its layers, the model, the
 * optimisers, training and evaluation, the data, checkpoints and the loss chart. The kernels and
 * the step plan, for people who build their own layers, are in `./engine`.
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

export { DEFAULTS, type Defaults } from "./lib/defaults.ts";
export type { Shape, Tensor } from "./lib/tensor.ts";

// The device.
export {
  type AdapterSummary,
  checkGpu,
  describeGpu,
  type Gpu,
  type GpuOptions,
  requestGpu,
  WebGpuUnavailableError,
} from "./lib/gpu/device.ts";

// The network and its layers (PyTorch's semantics, layouts and initialisation).
export { lenet5, type LeNetOptions, shapeSummary } from "./lib/nn/lenet.ts";
export { type Summary, summary, type SummaryRow } from "./lib/nn/summary.ts";
export { Sequential, type SequentialOptions } from "./lib/nn/sequential.ts";
export { Conv2d, type Conv2dOptions } from "./lib/nn/conv2d.ts";
export { AvgPool2d, MaxPool2d, type Pool2dOptions } from "./lib/nn/pool.ts";
export { ReLU, Sigmoid } from "./lib/nn/activation.ts";
export { Linear } from "./lib/nn/linear.ts";
export { Flatten } from "./lib/nn/flatten.ts";

// The model, training and evaluation.
export { Model, type ModelOptions, type ParameterInfo } from "./lib/train/model.ts";
export {
  Adam,
  type AdamOptions,
  FlatOptimizer,
  type Optimizer,
  type OptimizerState,
  SGD,
  type SgdOptions,
} from "./lib/train/optimizer.ts";
export {
  type EpochMetrics,
  type LossPoint,
  type StepEvent,
  train,
  type TrainData,
  type TrainHistory,
  trainOnBatch,
  type TrainOptions,
  type TrainProgress,
} from "./lib/train/trainer.ts";
export {
  decodeTrainingState,
  encodeTrainingState,
  type TrainingState,
} from "./lib/io/training_state.ts";
export {
  confusionMatrix,
  type EvalOptions,
  type EvalResult,
  evaluate,
  perClassAccuracy,
  type Predictions,
} from "./lib/train/evaluator.ts";
export {
  adapterKey,
  localStorageTuningStore,
  measureVariants,
  memoryTuningStore,
  type OpTiming,
  tune,
  TUNE_LEVELS,
  type TuneLevel,
  type TuneResult,
  type TuningStore,
} from "./lib/train/tune.ts";
export { rulesFor, type Tuning } from "./lib/nn/choose.ts";
export {
  formatPlan,
  type Mode,
  type PlanOp,
  type PlanTensor,
  type StepPlan,
} from "./lib/train/plan.ts";

// Checkpoints and charts.
export {
  type Architecture,
  checkpointArchitecture,
  checkpointMetadata,
  loadCheckpoint,
  type LoadCheckpointOptions,
  saveCheckpoint,
} from "./lib/io/checkpoint.ts";
export { type ChartData, lossChartSvg } from "./lib/view/chart.ts";
export { confusionMatrixSvg } from "./lib/view/confusion_svg.ts";
export {
  greyImageUrl,
  historyHtml,
  JUPYTER_DISPLAY,
  type MediaBundle,
  predictionGridHtml,
  summaryHtml,
} from "./lib/view/html.ts";

// Data.
export { DataError } from "./data/idx.ts";
export { DeviceLimitError, GpuFaultError, ModelBusyError, NonFiniteError } from "./lib/errors.ts";
export { FASHION_MNIST, type IdxDatasetSpec, type IdxFileSpec } from "./data/spec.ts";
export {
  classCounts,
  head,
  type ImageDataset,
  type Split,
  splitFromArrays,
} from "./data/dataset.ts";
export {
  type DownloadProgress,
  loadFashionMnist,
  loadIdxDataset,
  type LoadOptions,
} from "./data/locate.ts";
