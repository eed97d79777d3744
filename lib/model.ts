/**
 * A network on a device. All parameters live in one flat buffer (and their gradients in another
 * of the same layout): each layer's weights-then-bias segment starts at an offset the device can
 * bind, and an optimiser updates everything in one dispatch. Programs — the buffers and kernel
 * calls of one batch size — are built once and cached.
 *
 * @module
 */
import type { Gpu } from "./device.ts";
import { constantBuffer, readFloats, readUints, storageBuffer, writeBytes } from "./buffers.ts";
import type { BufferSlice, Dispatch, KernelCall } from "./kernel_runner.ts";
import { KernelRunner } from "./kernel_runner.ts";
import { type Layer, type Shape, sizeOf } from "./layers/layer.ts";
import { ParametricLayer } from "./layers/layer.ts";
import type { Sequential } from "./layers/sequential.ts";
import { softmaxCrossEntropy } from "../kernels/loss.ts";
import { argmaxRows } from "../kernels/metrics.ts";

/** A float32 tensor on the CPU, as stored in a `state_dict` or safetensors file. */
export interface Tensor {
  /** Shape, PyTorch order. */
  shape: readonly number[];
  /** Values, row-major. */
  data: Float32Array;
}

/** Where one named parameter sits in the flat buffer. */
export interface ParameterInfo {
  /** `state_dict` name, e.g. `0.weight`. */
  name: string;
  /** Shape. */
  shape: readonly number[];
  /** Offset in floats. */
  offset: number;
}

/** The buffers and kernel calls of one batch size. */
export interface Program {
  /** Batch size. */
  batch: number;
  /** Whether backward calls and gradient buffers exist. */
  training: boolean;
  /** Input images [batch, ...inputShape]. */
  input: GPUBuffer;
  /** Labels [batch] (u32). */
  labels: GPUBuffer;
  /** Logits [batch, classes]. */
  logits: GPUBuffer;
  /** Per-image loss [batch]. */
  rowLoss: GPUBuffer;
  /** Per-image correctness (0 or 1) [batch]. */
  rowCorrect: GPUBuffer;
  /** Forward pass of the network. */
  forward: KernelCall[];
  /** Loss (and, when training, the logit gradient). */
  loss: KernelCall[];
  /** Backward pass (empty unless training). */
  backward: KernelCall[];
}

/** Options of {@linkcode Model}. */
export interface ModelOptions {
  /** Per-sample input shape; default `[1, 28, 28]`. */
  inputShape?: Shape;
}

/**
 * A network placed on a device.
 *
 * @example
 * ```ts ignore
 * import { lenet5, Model, requestGpu } from "../mod.ts";
 * const model = new Model(await requestGpu(), lenet5({ seed: 0 }));
 * const { classes } = await model.predict(images, 1);
 * ```
 */
export class Model {
  /** The device. */
  readonly gpu: Gpu;
  /** The network. */
  readonly network: Sequential;
  /** Per-sample input shape. */
  readonly inputShape: Shape;
  /** Number of classes (the network's output size). */
  readonly classes: number;
  /** Every parameter's place in the flat buffer, in `state_dict` order. */
  readonly parameters: readonly ParameterInfo[];
  /** Length of the flat parameter buffer in floats (a multiple of 4). */
  readonly flatSize: number;
  /** All parameters. */
  readonly parameterBuffer: GPUBuffer;
  /** All gradients, same layout. */
  readonly gradientBuffer: GPUBuffer;
  #programs = new Map<string, Promise<Program>>();
  #predictors = new Map<number, Promise<Predictor>>();

  /** Places `network` on `gpu` with its current (initial) parameter values. */
  constructor(gpu: Gpu, network: Sequential, options: ModelOptions = {}) {
    this.gpu = gpu;
    this.network = network;
    this.inputShape = options.inputShape ?? [1, 28, 28];
    const out = network.outputShape(this.inputShape);
    if (out.length !== 1) {
      throw new RangeError(`the network must end in [classes], it ends in [${out}]`);
    }
    this.classes = out[0];
    const align = gpu.device.limits.minStorageBufferOffsetAlignment / 4;
    const named = network.namedParameters();
    const layers = [...new Set(named.map((p) => p.layer))];
    const segments = new Map<Layer, { offset: number; size: number }>();
    let cursor = 0;
    for (const layer of layers) {
      const size = layer.parameters.reduce((s, p) => s + p.data.length, 0);
      segments.set(layer, { offset: cursor, size });
      cursor += Math.ceil(size / align) * align;
    }
    this.flatSize = Math.max(cursor, 4);
    const flat = new Float32Array(this.flatSize);
    const infos: ParameterInfo[] = [];
    const within = new Map<Layer, number>();
    for (const p of named) {
      const offset = segments.get(p.layer)!.offset + (within.get(p.layer) ?? 0);
      within.set(p.layer, (within.get(p.layer) ?? 0) + p.data.length);
      flat.set(p.data, offset);
      infos.push({ name: p.qualifiedName, shape: p.shape, offset });
    }
    this.parameters = infos;
    const device = gpu.device;
    this.parameterBuffer = storageBuffer(device, flat, "parameters");
    this.gradientBuffer = storageBuffer(device, this.flatSize * 4, "gradients");
    for (const [layer, { offset, size }] of segments) {
      if (!(layer instanceof ParametricLayer)) {
        throw new Error(`${layer} has parameters but cannot bind them`);
      }
      const uniformBytes = Math.ceil(size / 4) * 16; // within the segment's alignment padding
      layer.bind({
        params: { buffer: this.parameterBuffer, offset: offset * 4, size: size * 4 },
        grads: { buffer: this.gradientBuffer, offset: offset * 4, size: size * 4 },
        uniformParams: uniformBytes <= device.limits.maxUniformBufferBindingSize
          ? { buffer: this.parameterBuffer, offset: offset * 4, size: uniformBytes }
          : undefined,
      });
    }
  }

  /** The cached program for a batch size. */
  program(batch: number, training: boolean): Promise<Program> {
    const key = `${batch}:${training}`;
    let p = this.#programs.get(key);
    if (!p) {
      p = this.#build(batch, training);
      this.#programs.set(key, p);
    }
    return p;
  }

  async #build(batch: number, training: boolean): Promise<Program> {
    const device = this.gpu.device;
    const floats = (n: number, label: string) => storageBuffer(device, n * 4, label);
    const input = floats(batch * sizeOf(this.inputShape), "input");
    const logits = floats(batch * this.classes, "logits");
    const work: Record<string, BufferSlice> = {};
    const requests = this.network.workspace(batch, this.inputShape, training);
    for (const [name, request] of Object.entries(requests)) {
      const buffer = typeof request === "number"
        ? storageBuffer(device, request, name)
        : constantBuffer(device, request, name);
      work[name] = { buffer };
    }
    const io = { batch, input: this.inputShape, x: { buffer: input }, y: { buffer: logits }, work };
    const program: Program = {
      batch,
      training,
      input,
      labels: floats(batch, "labels"),
      logits,
      rowLoss: floats(batch, "row loss"),
      rowCorrect: floats(batch, "row correct"),
      forward: this.network.forward(io),
      loss: [],
      backward: [],
    };
    const loss = softmaxCrossEntropy({ batch, classes: this.classes, gradient: training });
    const lossBuffers = [logits, program.labels, program.rowLoss, program.rowCorrect];
    if (training) {
      const dlogits = floats(batch * this.classes, "logit gradients");
      lossBuffers.push(dlogits);
      program.backward = this.network.backward({ ...io, dy: { buffer: dlogits }, dx: null });
    }
    program.loss = [{ kernel: loss, buffers: lossBuffers }];
    // Compile everything now, so that the first step is not slower than the rest.
    const runner = KernelRunner.for(device);
    await Promise.all(
      [...program.forward, ...program.loss, ...program.backward].map((c) =>
        runner.pipeline(c.kernel)
      ),
    );
    return program;
  }

  /**
   * Reads every parameter back, keyed by `state_dict` name.
   *
   * @example
   * ```ts ignore
   * const weights = await model.stateDict();
   * console.log(weights["0.weight"].shape); // [6, 1, 5, 5]
   * ```
   */
  async stateDict(): Promise<Record<string, Tensor>> {
    const flat = await readFloats(this.gpu.device, this.parameterBuffer);
    return Object.fromEntries(this.parameters.map((p) => [
      p.name,
      { shape: p.shape, data: flat.slice(p.offset, p.offset + sizeOf(p.shape)) },
    ]));
  }

  /**
   * Replaces every parameter. The names and shapes must be exactly the model's; an error names
   * the first tensor that is missing, unexpected or of another shape.
   */
  loadStateDict(tensors: Record<string, Tensor>): void {
    const known = new Set(this.parameters.map((p) => p.name));
    for (const name of Object.keys(tensors)) {
      if (!known.has(name)) {
        throw new RangeError(`unexpected tensor "${name}"; the model has ${[...known].join(", ")}`);
      }
    }
    for (const p of this.parameters) {
      const t = tensors[p.name];
      if (!t) throw new RangeError(`missing tensor "${p.name}" of shape [${p.shape.join(", ")}]`);
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new RangeError(
          `tensor "${p.name}" has shape [${t.shape.join(", ")}], the model needs [${
            p.shape.join(", ")
          }]`,
        );
      }
      if (t.data.length !== sizeOf(p.shape)) {
        throw new RangeError(
          `tensor "${p.name}" has ${t.data.length} values, its shape needs ${sizeOf(p.shape)}`,
        );
      }
    }
    for (const p of this.parameters) {
      writeBytes(this.gpu.device, this.parameterBuffer, p.offset * 4, tensors[p.name].data);
    }
  }

  /**
   * Logits and predicted classes for `count` images (`count × inputShape` floats, already scaled
   * like the training data).
   *
   * @example
   * ```ts ignore
   * const { classes } = await model.predict(batch.images, batch.size);
   * ```
   */
  async predict(
    images: Float32Array,
    count: number,
  ): Promise<{ logits: Float32Array; classes: Uint32Array }> {
    const per = sizeOf(this.inputShape);
    if (images.length !== count * per) {
      throw new RangeError(
        `predict: ${images.length} floats given, ${count} images need ${count * per}`,
      );
    }
    const device = this.gpu.device;
    const { program, predictions, dispatches } = await this.#predictor(count);
    writeBytes(device, program.input, 0, images);
    KernelRunner.for(device).submit(dispatches);
    const [logits, classes] = await Promise.all([
      readFloats(device, program.logits, 0, count * this.classes),
      readUints(device, predictions, 0, count),
    ]);
    return { logits, classes };
  }

  /** The forward pass plus arg-max for a batch size, prepared once. */
  #predictor(count: number): Promise<Predictor> {
    let p = this.#predictors.get(count);
    if (!p) {
      p = (async () => {
        const program = await this.program(count, false);
        const predictions = storageBuffer(this.gpu.device, count * 4, "predictions");
        const dispatches = await KernelRunner.for(this.gpu.device).prepareAll([
          ...program.forward,
          { kernel: argmaxRows(count, this.classes), buffers: [program.logits, predictions] },
        ]);
        return { program, predictions, dispatches };
      })();
      this.#predictors.set(count, p);
    }
    return p;
  }
}

interface Predictor {
  program: Program;
  predictions: GPUBuffer;
  dispatches: Dispatch[];
}
