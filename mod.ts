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
export * from "./lib/device.ts";
export * from "./lib/device_data.ts";
export type { Binding, BindingAccess, ChunkPlan, ImageChunk, KernelSpec } from "./kernels/spec.ts";
export type { ActivationKind } from "./kernels/activation.ts";
export type { Pool2dShape, PoolKind } from "./kernels/pool.ts";
export type { Conv2dShape } from "./kernels/conv2d.ts";
export type { MatmulShape } from "./kernels/linear.ts";
export * from "./lib/random.ts";
export * from "./lib/buffers.ts";
export * from "./lib/kernel_runner.ts";
export * from "./lib/layers/layer.ts";
export * from "./lib/layers/conv2d.ts";
export * from "./lib/layers/pool.ts";
export * from "./lib/layers/activation.ts";
export * from "./lib/layers/linear.ts";
export * from "./lib/layers/flatten.ts";
export * from "./lib/layers/sequential.ts";
export * from "./lib/lenet.ts";
export * from "./lib/model.ts";
export * from "./lib/optimizer.ts";
export * from "./lib/trainer.ts";
export * from "./lib/evaluator.ts";
export * from "./lib/checkpoint.ts";
export * from "./lib/safetensors.ts";
export * from "./lib/chart.ts";
export * from "./data/idx.ts";
export * from "./data/spec.ts";
export * from "./data/dataset.ts";
export * from "./data/locate.ts";
