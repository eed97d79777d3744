/**
 * lenet-webgpu: LeNet-5 on Fashion-MNIST, trained and run with hand-written WGSL compute kernels
 * through WebGPU (`navigator.gpu`) — in Deno, the Deno Jupyter kernel or a browser.
 *
 * ```ts ignore
 * import { evaluate, lenet5, loadFashionMnist, Model, requestGpu, train } from "@lenet-webgpu/lenet-webgpu";
 *
 * const data = await loadFashionMnist();
 * const model = new Model(await requestGpu(), lenet5({ seed: 0 }));
 * const history = await train(model, data, { epochs: 10 }); // Adam 1e-3, batches of 256
 * const { accuracy } = await evaluate(model, data.test);
 * ```
 *
 * @module
 */

// The device and the kernel machinery.
export {
  type AdapterSummary,
  describeGpu,
  type Gpu,
  type GpuOptions,
  requestGpu,
  WebGpuUnavailableError,
} from "./lib/device.ts";
export {
  type BufferSlice,
  type Dispatch,
  type KernelCall,
  KernelCompileError,
  KernelRunner,
} from "./lib/kernel_runner.ts";
export { readFloats, storageBuffer } from "./lib/buffers.ts";
export type { Binding, BindingAccess, ChunkPlan, ImageChunk, KernelSpec } from "./kernels/spec.ts";
export type { ActivationKind } from "./kernels/activation.ts";
export type { Pool2dShape, PoolKind } from "./kernels/pool.ts";
export type { Conv2dShape } from "./kernels/conv2d.ts";
export type { MatmulShape } from "./kernels/linear.ts";

// Layers, the network and the model.
export {
  type BackwardIO,
  type ForwardIO,
  type Layer,
  type Parameter,
  type ParameterSegment,
  ParametricLayer,
  type Shape,
  type Workspace,
} from "./lib/layers/layer.ts";
export { Conv2d, type Conv2dOptions } from "./lib/layers/conv2d.ts";
export { AvgPool2d, MaxPool2d, Pool2d, type Pool2dOptions } from "./lib/layers/pool.ts";
export { Activation, ReLU, Sigmoid } from "./lib/layers/activation.ts";
export { Linear } from "./lib/layers/linear.ts";
export { Flatten } from "./lib/layers/flatten.ts";
export { type NamedParameter, Sequential } from "./lib/layers/sequential.ts";
export { lenet5, type LeNetOptions, shapeSummary } from "./lib/lenet.ts";
export {
  Model,
  type ModelOptions,
  type ParameterInfo,
  type Program,
  type Tensor,
} from "./lib/model.ts";
export { permutation, Random } from "./lib/random.ts";

// Training, evaluation, checkpoints and charts.
export { Adam, type AdamOptions, type Optimizer, SGD, type SgdOptions } from "./lib/optimizer.ts";
export {
  type EpochMetrics,
  type LossPoint,
  type StepEvent,
  train,
  type TrainData,
  type TrainHistory,
  trainOnBatch,
  type TrainOptions,
} from "./lib/trainer.ts";
export { type EvalOptions, type EvalResult, evaluate } from "./lib/evaluator.ts";
export { checkpointMetadata, loadCheckpoint, saveCheckpoint } from "./lib/checkpoint.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  float32Tensors,
  type RawTensor,
  type SafetensorsFile,
} from "./lib/safetensors.ts";
export { type ChartData, lossChartSvg } from "./lib/chart.ts";

// Data: decoding (web APIs) and locating the files (Deno).
export {
  DataError,
  decodeIdxImages,
  decodeIdxLabels,
  gunzip,
  type IdxImages,
  sha256Hex,
} from "./data/idx.ts";
export { FASHION_MNIST, type IdxDatasetSpec, type IdxFileSpec } from "./data/spec.ts";
export {
  type Batch,
  batches,
  type BatchOptions,
  classCounts,
  datasetFromBytes,
  head,
  type IdxFileBytes,
  type ImageDataset,
  type Split,
} from "./data/dataset.ts";
export {
  type DownloadProgress,
  loadFashionMnist,
  loadIdxDataset,
  type LoadOptions,
} from "./data/locate.ts";
