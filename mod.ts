/**
 * lenet-webgpu: LeNet-5 on Fashion-MNIST, trained and run with hand-written WGSL compute kernels
 * through WebGPU (`navigator.gpu`) — in Deno, the Deno Jupyter kernel or a browser.
 *
 * ```ts ignore
 * import { loadFashionMnist, requestGpu } from "@lenet-webgpu/lenet-webgpu";
 * const gpu = await requestGpu();
 * const data = await loadFashionMnist();
 * ```
 *
 * @module
 */
export * from "./lib/device.ts";
export * from "./lib/random.ts";
export * from "./data/idx.ts";
export * from "./data/spec.ts";
export * from "./data/dataset.ts";
export * from "./data/locate.ts";
