/**
 * The engine under `lenet-webgpu`, for people who build their own layers or kernels, or look
 * under the hood: the layer contract, each op's kernel candidates and the tuner that picks among
 * them, the step plan, the kernel descriptors and their runner, buffers, uniform views, the
 * training state, the HTML and SVG views, the seeded generator, and the file formats' raw codecs.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelSource, KernelRunner, readFloats, storageBuffer } from "./engine.ts";
 * import { requestGpu } from "./mod.ts";
 *
 * const { device } = await requestGpu();
 * const kernel = {
 *   name: "fill",
 *   bindings: [{ name: "out", type: "array<f32>", access: "read_write" as const }],
 *   workgroupSize: 64,
 *   workgroupCount: 1,
 *   body: "out[i] = f32(i);",
 * };
 * assert.match(kernelSource(kernel), /@workgroup_size\(64\)/);
 * const out = storageBuffer(device, 64 * 4);
 * const runner = KernelRunner.for(device);
 * runner.submit([await runner.prepare({ kernel, buffers: [out] })]);
 * assert.equal((await readFloats(device, out, 0, 64))[63], 63);
 * out.destroy();
 * ```
 *
 * @module
 */

export type { Shape, Tensor } from "./lib/tensor.ts";
export { type AdapterSummary, checkGpu } from "./lib/gpu/device.ts";

// Layers: the contract, the base classes, their options.
export {
  type BackwardIO,
  type ForwardIO,
  type Layer,
  type LayerDescription,
  type Op,
  type Parameter,
  type ParameterSegment,
  ParametricLayer,
  type Workspace,
} from "./lib/nn/layer.ts";
export {
  type ActivationLayer,
  activationOf,
  type FoldedPoolBackward,
  type FusedBackwardIO,
  type FusedForwardIO,
  type FusedPool,
  type Fuses,
  fusesOf,
  type FusiblePoolingLayer,
  fusiblePoolingOf,
  fusing,
  type FusingLayer,
  type FusionWork,
} from "./lib/nn/fused.ts";
export {
  type NamedParameter,
  type PlacedLayer,
  type SequentialOptions,
} from "./lib/nn/sequential.ts";
export type { Summary, SummaryRow } from "./lib/nn/summary.ts";
export type { Conv2dOptions } from "./lib/nn/conv2d.ts";
export {
  checkLenetSize,
  largestLenetInput,
  lenetParameters,
  shapeSummary,
} from "./lib/nn/lenet.ts";
export { Activation, activationLayer } from "./lib/nn/activation.ts";
export { BatchNorm, type BatchNormOptions } from "./lib/nn/batchnorm.ts";
export { type BuildOptions, checkChain, LAYER_TYPES, NETWORK_FORMAT } from "./lib/nn/network.ts";
export { Pool2d, type Pool2dOptions } from "./lib/nn/pool.ts";

// The model's internals, training's state and events, the optimisers' flat form.
export type { ParameterInfo } from "./lib/train/model.ts";
export { FlatOptimizer, type OptimizerState } from "./lib/train/optimizer.ts";
export { checkProgress, type LossPoint, type StepEvent } from "./lib/train/trainer.ts";
export { checkSchedule, type LrSchedule, scheduledLr, SCHEDULES } from "./lib/train/schedule.ts";
export type { PlanOptions } from "./lib/train/plan.ts";
export { heldOutRows, holdOut } from "./lib/train/validation.ts";
export {
  augmentOf,
  describeRecipe,
  optimizerOf,
  type Recipe,
  RECIPE_NAMES,
  type RecipeName,
  RECIPES,
  scheduleOf,
} from "./lib/train/recipe.ts";
export { type Augment, type AugmentDraws, augmentDraws, hash32 } from "./kernels/batch.ts";
export {
  decodeTrainingState,
  encodeTrainingState,
  type TrainingState,
} from "./lib/io/training_state.ts";
export {
  checkpointArchitecture,
  checkpointMetadata,
  type LoadCheckpointOptions,
} from "./lib/io/checkpoint.ts";
export type { Defaults } from "./lib/defaults.ts";
export type {
  ClassProbability,
  FeatureMaps,
  Inspection,
  InspectOptions,
  Mistake,
  Mistakes,
} from "./lib/train/inspect.ts";
export {
  type InspectionPicture,
  inspectionSvg,
  type MistakesPicture,
  mistakesSvg,
} from "./lib/view/inspect_svg.ts";
export { encodePng, pngDataUrl } from "./lib/view/png.ts";
export { ONNX_OPSET, type OnnxOptions } from "./lib/io/onnx.ts";
export { confusionMatrix, perClassAccuracy, type Predictions } from "./lib/train/evaluator.ts";

// Tuning: measuring candidates, storing picks.
export {
  adapterKey,
  localStorageTuningStore,
  measureVariants,
  memoryTuningStore,
  type OpTiming,
  TUNE_LEVELS,
  type TuneResult,
} from "./lib/train/tune.ts";
export {
  type Candidate,
  type CandidateLine,
  type Choice,
  choose,
  CPU_RULES,
  RULES,
  rulesFor,
  type Tuning,
  type ViewUse,
} from "./lib/nn/choose.ts";
export {
  chooseConvBackwardInput,
  chooseConvBackwardWeight,
  chooseConvForward,
  convTile,
  CORRELATION_CANDIDATES,
  type CorrelationKernel,
  type CorrelationLine,
  correlationTiles,
  resolveTile,
  type TileRule,
  WEIGHT_GRAD_CANDIDATES,
  type WeightGradKernel,
  type WeightGradLine,
} from "./lib/nn/conv_candidates.ts";
export {
  chooseMatmul,
  MATMUL_CANDIDATES,
  type MatmulKernel,
  type MatmulLine,
} from "./lib/nn/matmul_candidates.ts";
export { choosePoolBackward, POOL_BACKWARD_CANDIDATES } from "./lib/nn/pool_candidates.ts";
export { timeDispatches, type TimingClock, timingClock } from "./lib/gpu/timing.ts";

// The step plan.
export {
  buildStepPlan,
  describeStep,
  formatPlan,
  type Mode,
  type PlanModel,
  type PlanOp,
  type PlanTensor,
  stepCalls,
  type StepPlan,
} from "./lib/train/plan.ts";
export {
  fusedActivations,
  fusedPoolings,
  type FusionGroup,
  fusionGroups,
} from "./lib/train/fusion.ts";
export {
  type LayerSlots,
  type LayoutModel,
  type LayoutTensor,
  type StepLayout,
  stepLayout,
} from "./lib/train/layout.ts";
export {
  bindSegments,
  type ParameterLayout,
  parameterLayout,
  type Segment,
} from "./lib/train/segments.ts";

// Kernels and the runner.
export {
  type BufferSlice,
  type Dispatch,
  type KernelCall,
  KernelCompileError,
  KernelRunner,
} from "./lib/gpu/kernel_runner.ts";
export { readFloats, readUints, storageBuffer, writeBytes } from "./lib/gpu/buffers.ts";
export { type Binding, type BindingAccess, kernelSource, type KernelSpec } from "./kernels/spec.ts";
export { type ChunkPlan, type ImageChunk, uniformChunks } from "./kernels/views.ts";
export {
  ACTIVATION_KINDS,
  type ActivationArgs,
  type ActivationEntry,
  type ActivationKind,
  type ActivationOnnxNode,
  ACTIVATIONS,
  FUSIBLE_ACTIVATIONS,
  type FusibleActivation,
} from "./kernels/activation.ts";
export type { Conv2dShape, ConvTile } from "./kernels/conv2d.ts";
export type { WeightGradVariant } from "./kernels/conv2d_weight.ts";
export {
  type Pool2dShape,
  POOL_KINDS,
  type PoolBackwardVariant,
  type PoolEntry,
  POOLINGS,
  type PoolKind,
} from "./kernels/pool.ts";
export type { MatmulShape } from "./kernels/linear.ts";

// Seeded randomness and raw file formats.
export { permutation, Random } from "./lib/random.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  float32Tensors,
  type RawTensor,
  type SafetensorsFile,
} from "./lib/io/safetensors.ts";
export { decodeIdxImages, decodeIdxLabels, type IdxImages } from "./data/idx.ts";
export type { IdxDatasetSpec, IdxFileSpec } from "./data/spec.ts";
export { classCounts } from "./data/dataset.ts";
export { type DownloadProgress, fetchBytes } from "./data/download.ts";

// Views: charts and the HTML that notebooks and the page show.
export type { ChartData } from "./lib/view/chart.ts";
export {
  greyImageUrl,
  historyHtml,
  JUPYTER_DISPLAY,
  type MediaBundle,
  predictionGridHtml,
  summaryHtml,
} from "./lib/view/html.ts";
