/**
 * The engine under `lenet-webgpu`, for people who build their own layers or kernels: the layer
 * contract, the kernel choosers, the step plan, the kernel descriptors and their runner, buffers,
 * uniform views, the seeded generator, and the file formats' raw codecs.
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

// Layers: the contract, the base classes, the choosers.
export {
  type BackwardIO,
  type ForwardIO,
  type Layer,
  type Op,
  type Parameter,
  type ParameterSegment,
  ParametricLayer,
  type Workspace,
} from "./lib/nn/layer.ts";
export { type NamedParameter, type PlacedLayer } from "./lib/nn/sequential.ts";
export { Activation } from "./lib/nn/activation.ts";
export { Pool2d } from "./lib/nn/pool.ts";
export {
  type Candidate,
  type Choice,
  chooseConvBackwardInput,
  chooseConvBackwardWeight,
  chooseConvForward,
  chooseMatmul,
  choosePoolBackward,
  type ConvChoice,
  convTile,
  convTileCandidates,
  CPU_RULES,
  type MatmulChoice,
  type WeightGradVariant,
} from "./lib/nn/choose.ts";
export { timeDispatches, type TimingClock, timingClock } from "./lib/gpu/timing.ts";

// The step plan.
export { buildStepPlan, type PlanModel, stepCalls } from "./lib/train/plan.ts";
export { fusedActivations } from "./lib/train/fusion.ts";

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
export type { ActivationKind } from "./kernels/activation.ts";
export type { Conv2dShape, ConvTile } from "./kernels/conv2d.ts";
export type { Pool2dShape, PoolBackwardVariant, PoolKind } from "./kernels/pool.ts";
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
