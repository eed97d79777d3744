/**
 * Compiles kernel descriptors into pipelines (one cache per device, keyed by the generated WGSL,
 * so that no hand-written key can drift from what was compiled), binds buffers and records
 * dispatches. A shader that fails to compile throws {@linkcode KernelCompileError} with the
 * compiler's messages and the numbered source.
 *
 * @module
 */
import {
  type BindingAccess,
  foldWorkgroups,
  kernelSource,
  type KernelSpec,
} from "../../kernels/spec.ts";

/** A buffer range bound to one kernel binding. */
export interface BufferSlice {
  /** The buffer. */
  buffer: GPUBuffer;
  /** Byte offset (a multiple of the device's `minStorageBufferOffsetAlignment`). */
  offset?: number;
  /** Byte length; default: to the end of the buffer. */
  size?: number;
}

/** A kernel together with the buffers it runs on. */
export interface KernelCall {
  /** The kernel. */
  kernel: KernelSpec;
  /** One buffer per binding, in binding order. */
  buffers: readonly (GPUBuffer | BufferSlice)[];
}

/** A compiled, bound kernel, ready to record into a compute pass. */
export interface Dispatch {
  /** The pipeline. */
  pipeline: GPUComputePipeline;
  /** The bound buffers. */
  bindGroup: GPUBindGroup;
  /** Workgroups in x and y. */
  workgroups: [number, number];
  /** The kernel's name, for profiles and errors. */
  name: string;
}

/**
 * A WGSL compile or pipeline error, with the compiler's messages and the numbered source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelCompileError, KernelRunner } from "./kernel_runner.ts";
 * import { requestGpu } from "./device.ts";
 * const { device } = await requestGpu();
 * const broken = {
 *   name: "broken",
 *   bindings: [{ name: "out", type: "array<f32>", access: "read_write" as const }],
 *   workgroupSize: 1,
 *   workgroupCount: 1,
 *   body: "out[i] = undefined_name;",
 * };
 * const error = await KernelRunner.for(device).pipeline(broken).catch((e) => e);
 * assert.ok(error instanceof KernelCompileError);
 * assert.match(error.message, /undefined_name[^]*--- source ---/); // messages, then the source
 * ```
 */
export class KernelCompileError extends Error {
  /**
   * A compile error with the compiler's output and the numbered source.
   *
   * @param name the kernel's name
   * @param messages the compiler's output
   * @param source the WGSL that failed
   */
  constructor(name: string, messages: string, source: string) {
    const numbered = source.split("\n").map((l, n) => `${String(n + 1).padStart(4)} | ${l}`);
    super(
      `kernel ${name} failed to compile:\n${messages.trim()}\n--- source ---\n${
        numbered.join("\n")
      }`,
    );
    this.name = "KernelCompileError";
  }
}

const BINDING_TYPE: Record<BindingAccess, GPUBufferBindingType> = {
  read: "read-only-storage",
  read_write: "storage",
  uniform: "uniform",
};

/**
 * The pipeline cache and dispatch helper of one device.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelRunner } from "./kernel_runner.ts";
 * import { readFloats, storageBuffer } from "./buffers.ts";
 * import { requestGpu } from "./device.ts";
 * const { device } = await requestGpu();
 * const kernel = {
 *   name: "double",
 *   bindings: [
 *     { name: "x", type: "array<f32>", access: "read" as const },
 *     { name: "y", type: "array<f32>", access: "read_write" as const },
 *   ],
 *   workgroupSize: 4,
 *   workgroupCount: 1,
 *   body: "y[i] = 2.0 * x[i];",
 * };
 * const input = storageBuffer(device, new Float32Array([1, 2, 3, 4])), output = storageBuffer(device, 16);
 * const runner = KernelRunner.for(device);
 * runner.submit([await runner.prepare({ kernel, buffers: [input, output] })]);
 * assert.deepEqual([...await readFloats(device, output, 0, 4)], [2, 4, 6, 8]);
 * input.destroy();
 * output.destroy();
 * ```
 */
export class KernelRunner {
  static #runners = new WeakMap<GPUDevice, KernelRunner>();
  /** The device. */
  readonly device: GPUDevice;
  #pipelines = new Map<string, Promise<GPUComputePipeline>>();
  #layouts = new Map<string, GPUBindGroupLayout>();

  private constructor(device: GPUDevice) {
    this.device = device;
  }

  /** The runner (and so the pipeline cache) of `device`. */
  static for(device: GPUDevice): KernelRunner {
    let runner = KernelRunner.#runners.get(device);
    if (!runner) KernelRunner.#runners.set(device, runner = new KernelRunner(device));
    return runner;
  }

  /** Number of distinct pipelines compiled so far. */
  get cachedPipelines(): number {
    return this.#pipelines.size;
  }

  #layout(accesses: readonly BindingAccess[]): GPUBindGroupLayout {
    const id = accesses.join(",");
    let layout = this.#layouts.get(id);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        entries: accesses.map((a, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: BINDING_TYPE[a] },
        })),
      });
      this.#layouts.set(id, layout);
    }
    return layout;
  }

  /** The compiled pipeline of `kernel`, from the cache when the same source was compiled before. */
  pipeline(kernel: KernelSpec): Promise<GPUComputePipeline> {
    const code = kernelSource(kernel);
    let p = this.#pipelines.get(code);
    if (!p) {
      p = this.#compile(kernel, code);
      this.#pipelines.set(code, p);
      p.catch(() => this.#pipelines.delete(code));
    }
    return p;
  }

  async #compile(kernel: KernelSpec, code: string): Promise<GPUComputePipeline> {
    const device = this.device;
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code, label: kernel.name });
    const [scopeError, info] = await Promise.all([
      device.popErrorScope(),
      module.getCompilationInfo(),
    ]);
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length || scopeError) {
      const text = errors.length
        ? errors.map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message.trim()}`).join("\n")
        : scopeError!.message;
      throw new KernelCompileError(kernel.name, text, code);
    }
    const layout = device.createPipelineLayout({
      bindGroupLayouts: [this.#layout(kernel.bindings.map((b) => b.access))],
    });
    try {
      return await device.createComputePipelineAsync({
        label: kernel.name,
        layout,
        compute: { module, entryPoint: "main" },
      });
    } catch (e) {
      throw new KernelCompileError(kernel.name, e instanceof Error ? e.message : String(e), code);
    }
  }

  /** Compiles (or takes from the cache) and binds a call. */
  async prepare(call: KernelCall): Promise<Dispatch> {
    const { kernel, buffers } = call;
    if (buffers.length !== kernel.bindings.length) {
      throw new Error(
        `kernel ${kernel.name} has ${kernel.bindings.length} bindings, ${buffers.length} buffers given`,
      );
    }
    const pipeline = await this.pipeline(kernel);
    const bindGroup = this.device.createBindGroup({
      layout: this.#layout(kernel.bindings.map((b) => b.access)),
      entries: buffers.map((b, binding) => ({
        binding,
        resource: "buffer" in b
          ? { buffer: b.buffer, offset: b.offset ?? 0, size: b.size }
          : { buffer: b },
      })),
    });
    return {
      pipeline,
      bindGroup,
      workgroups: foldWorkgroups(kernel.workgroupCount),
      name: kernel.name,
    };
  }

  /** Compiles and binds every call, in order. */
  prepareAll(calls: readonly KernelCall[]): Promise<Dispatch[]> {
    return Promise.all(calls.map((c) => this.prepare(c)));
  }

  /** Records dispatches into one compute pass of `encoder` (`descriptor`: e.g. its timestamps). */
  static record(
    encoder: GPUCommandEncoder,
    dispatches: readonly Dispatch[],
    descriptor: GPUComputePassDescriptor = {},
  ): void {
    const pass = encoder.beginComputePass(descriptor);
    for (const d of dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1]);
    }
    pass.end();
  }

  /** Records `dispatches` into a new encoder and submits it. */
  submit(dispatches: readonly Dispatch[]): void {
    const encoder = this.device.createCommandEncoder();
    KernelRunner.record(encoder, dispatches);
    this.device.queue.submit([encoder.finish()]);
  }
}
