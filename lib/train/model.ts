/**
 * A network on a device. All parameters live in one flat buffer (and their gradients in another
 * of the same layout): each layer's weights-then-bias segment starts at an offset the device can
 * bind, and an optimiser updates everything in one dispatch. Step plans — the buffers and ops of
 * one batch size and mode — are built once and cached until {@linkcode Model.dispose}.
 *
 * @module
 */
import { checkGpu, type Gpu } from "../gpu/device.ts";
import { exclusive, runningNow } from "./_guards.ts";
import { DeviceLimitError, ModelBusyError } from "../../errors.ts";
import { rulesFor, type Tuning } from "../nn/choose.ts";
import { summary } from "../nn/summary.ts";
import { BatchNorm } from "../nn/batchnorm.ts";
import { Dropout } from "../nn/dropout.ts";
import { JUPYTER_DISPLAY, type MediaBundle, summaryHtml } from "../view/html.ts";
import { readFloats, readUints, storageBuffer, uniformBuffer, writeBytes } from "../gpu/buffers.ts";
import { KernelRunner } from "../gpu/kernel_runner.ts";
import type { PlacedLayer, Sequential } from "../nn/sequential.ts";
import { DEFAULTS } from "../defaults.ts";
import { type Shape, sizeOf, type Tensor } from "../tensor.ts";
import {
  buildStepPlan,
  type Mode,
  type PlanModel,
  type PlanOptions,
  stepCalls,
  type StepPlan,
} from "./plan.ts";
import { maxBatchSize } from "./plan_limits.ts";
import { type StepLayout, stepLayout } from "./layout.ts";
import { bindSegments, type ParameterInfo, parameterLayout } from "./segments.ts";
import { argmaxOp } from "./step_ops.ts";
import type { Dispatch } from "../gpu/kernel_runner.ts";

export type { ParameterInfo } from "./segments.ts";

/** Options of {@linkcode Model}. */
export interface ModelOptions {
  /** Per-sample input shape; default the network's own (`lenet5` records it), else `[1, 28, 28]`. */
  inputShape?: Shape;
  /** Kernel variant picks (see `tune`); default the rules of the adapter's kind. */
  tuning?: Tuning;
  /**
   * Whether the fusion pass runs (`lib/train/fusion.ts`): activations and 2×2 poolings inside
   * their neighbours' kernels, and in evaluation a BatchNorm2d folded into the convolution
   * before it; default true. Off, every layer runs its own kernels, with the same results to
   * rounding: a check, and a way to run a layer no fusion knows.
   */
  fuse?: boolean;
}

interface Predictor {
  plan: StepPlan;
  predictions: GPUBuffer;
  dispatches: Dispatch[];
}

/**
 * A network placed on a device.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu } from "../../mod.ts";
 * const model = new Model(await requestGpu(), lenet5({ seed: 0 }));
 * const { classes, logits } = await model.predict(new Float32Array(2 * 28 * 28), 2);
 * assert.equal(classes.length, 2);
 * assert.equal(logits.length, 2 * 10);
 * model.dispose();
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
  /** Every buffer's place (running statistics), in `state_dict` order, in `stateBuffer`. */
  readonly buffers: readonly ParameterInfo[];
  /** The layers' buffers, laid out as the parameters are; no optimiser touches them. */
  readonly stateBuffer: GPUBuffer;
  /** The uniform `[seed, step]` a training step's random draws come from (`setNoise`). */
  readonly noiseBuffer: GPUBuffer;
  #stateOrder: { info: ParameterInfo; source: "params" | "state" }[];
  #noiseStep = 0;
  #drawsNoise: boolean;
  #fuse: boolean;
  #layers: readonly PlacedLayer[];
  #plans = new Map<string, Promise<StepPlan>>();
  #predictors = new Map<number, Promise<Predictor>>();
  /** Device buffers of plans and predictors built so far, freed by dispose. */
  #owned: GPUBuffer[] = [];
  #disposed = false;
  #tuning: Tuning;

  /** Places `network` on `gpu` with its current (initial) parameter values. */
  constructor(gpu: Gpu, network: Sequential, options: ModelOptions = {}) {
    this.gpu = gpu;
    this.network = network;
    this.inputShape = options.inputShape ?? network.inputShape ??
      [1, DEFAULTS.inputSize, DEFAULTS.inputSize];
    const out = network.outputShape(this.inputShape);
    if (out.length !== 1) {
      throw new RangeError(`the network must end in [classes], it ends in [${out}]`);
    }
    this.classes = out[0];
    this.#layers = network.flat();
    this.#tuning = options.tuning ?? rulesFor(gpu.info);
    this.#fuse = options.fuse ?? true;
    this.#drawsNoise = this.#layers.some(({ layer }) => layer instanceof Dropout);
    const device = gpu.device;
    const layout = parameterLayout(network, device.limits.minStorageBufferOffsetAlignment / 4);
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    if (4 * layout.flatSize > limit) {
      throw new DeviceLimitError(
        `the network's ${layout.flatSize} parameters need ${
          4 * layout.flatSize
        } bytes, but this adapter binds at most ${limit} per buffer`,
      );
    }
    this.flatSize = layout.flatSize;
    this.parameters = layout.parameters;
    this.parameterBuffer = storageBuffer(device, layout.flat, "parameters");
    this.gradientBuffer = storageBuffer(device, this.flatSize * 4, "gradients");
    const states = parameterLayout(
      network,
      device.limits.minStorageBufferOffsetAlignment / 4,
      "buffers",
    );
    this.buffers = states.parameters;
    this.stateBuffer = storageBuffer(device, states.flat, "buffers");
    this.noiseBuffer = uniformBuffer(device, "noise");
    bindSegments(
      layout.segments,
      this.parameterBuffer,
      this.gradientBuffer,
      device.limits.maxUniformBufferBindingSize,
      { segments: states.segments, buffer: this.stateBuffer },
    );
    this.#stateOrder = this.#layers.flatMap(({ path }) => {
      const mine = (list: readonly ParameterInfo[], source: "params" | "state") =>
        list.filter((p) => p.name.startsWith(`${path}.`)).map((info) => ({ info, source }));
      return [...mine(this.parameters, "params"), ...mine(this.buffers, "state")];
    });
  }

  /** The step number last given to {@linkcode Model.setNoise} (0 before any). */
  get noiseStep(): number {
    return this.#noiseStep;
  }

  /**
   * Sets what the next training step's random draws (Dropout's masks) come from: a seed and the
   * step's number. The trainer calls it before every step, so a resumed run draws what the
   * uninterrupted one would have.
   *
   * @example
   * ```ts
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * using model = new Model(await requestGpu(), lenet5());
   * model.setNoise(0, 1);
   * ```
   */
  setNoise(seed: number, step: number): void {
    this.#alive();
    this.#noiseStep = step;
    // Only Dropout reads it: a network without one writes nothing per step.
    if (!this.#drawsNoise) return;
    this.gpu.device.queue.writeBuffer(
      this.noiseBuffer,
      0,
      Uint32Array.of(seed >>> 0, step >>> 0, 0, 0),
    );
  }

  #alive(): void {
    if (this.#disposed) throw new Error("this Model was disposed");
  }

  /**
   * The step plan for a batch size and mode, built on first use and cached.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * const model = new Model(await requestGpu(), lenet5());
   * const plan = await model.plan(16, "train");
   * assert.equal(plan.forward[0].name, "conv2d.forward");
   * assert.equal(plan.backward.at(-1)!.outputs[0], "dw0");
   * model.dispose();
   * ```
   */
  plan(batch: number, mode: Mode, options: PlanOptions = {}): Promise<StepPlan> {
    this.#alive();
    const key = `${batch}:${mode}:${options.labelSmoothing ?? 0}`;
    let p = this.#plans.get(key);
    if (!p) {
      p = buildStepPlan(this.#planModel(), batch, mode, options);
      this.#plans.set(key, p);
      p.then((plan) => this.#own(plan.owned), () => this.#plans.delete(key));
    }
    return p;
  }

  #planModel(tuning: Tuning = this.#tuning): PlanModel {
    return {
      device: this.gpu.device,
      layers: this.#layers,
      inputShape: this.inputShape,
      classes: this.classes,
      tuning,
      noise: { buffer: this.noiseBuffer },
      fuse: this.#fuse,
    };
  }

  /**
   * The kernel variant picks the model's plans are built with. Setting it (not while the model
   * trains or evaluates) frees the plans built so far; the next step builds new ones.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * using model = new Model(await requestGpu(), lenet5());
   * // The rules of the adapter's kind until tuned: "cpu" on lavapipe, "gpu" on a GPU.
   * assert.deepEqual(model.tuning.picks, {});
   * const key = (await model.plan(8, "eval")).forward[0].tuning!.key;
   * model.tuning = { picks: { [key]: "storage tile 6x4" }, defaults: model.tuning.defaults };
   * assert.match((await model.plan(8, "eval")).forward[0].variant, /^storage tile 6x4/);
   * ```
   */
  get tuning(): Tuning {
    return this.#tuning;
  }

  set tuning(tuning: Tuning) {
    this.#alive();
    const busy = runningNow(this);
    if (busy) throw new ModelBusyError("a change of tuning", busy);
    this.#tuning = tuning;
    this.#plans.clear();
    this.#predictors.clear();
    for (const buffer of this.#owned.splice(0)) buffer.destroy();
  }

  /**
   * A step plan built with `tuning` instead of the model's, not cached: the caller frees it with
   * `destroyPlan`. The tuner times candidate variants with it.
   */
  uncachedPlan(batch: number, mode: Mode, tuning: Tuning): Promise<StepPlan> {
    this.#alive();
    return buildStepPlan(this.#planModel(tuning), batch, mode);
  }

  /**
   * The layout of a step (every tensor with its bytes, the fusion groups), worked out without
   * allocating anything.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * using model = new Model(await requestGpu(), lenet5());
   * const layout = model.layout(256, "eval");
   * assert.equal(layout.tensors.find((t) => t.name === "logits")!.bytes, 256 * 10 * 4);
   * ```
   */
  layout(batch: number, mode: Mode): StepLayout {
    return stepLayout(this.#planModel(), batch, mode);
  }

  /**
   * The largest batch size whose buffers fit this adapter's limits, for a mode.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * const model = new Model(await requestGpu(), lenet5());
   * assert.ok(model.maxBatchSize("eval") >= model.maxBatchSize("train"));
   * model.dispose();
   * ```
   */
  maxBatchSize(mode: Mode): number {
    return maxBatchSize(this.#planModel(), mode);
  }

  /**
   * The smallest batch a training step can take: 2 when a BatchNorm would see one value per
   * channel in a batch of one (BatchNorm1d, or 1×1 maps), as PyTorch refuses that; else 1.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { BatchNorm1d, Linear, Model, requestGpu, Sequential } from "../../mod.ts";
   * using model = new Model(await requestGpu(), new Sequential([new Linear(4, 3), new BatchNorm1d(3)], { inputShape: [4] }));
   * assert.equal(model.minTrainingBatch(), 2);
   * ```
   */
  minTrainingBatch(): number {
    const shapes = this.network.shapes(this.inputShape);
    const single = this.#layers.some(({ layer }, i) =>
      layer instanceof BatchNorm && sizeOf(shapes[i]) === shapes[i][0]
    );
    return single ? 2 : 1;
  }

  /**
   * Reads every parameter back (and every buffer: running statistics), keyed by `state_dict`
   * name, in PyTorch's order.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * const model = new Model(await requestGpu(), lenet5());
   * const weights = await model.stateDict();
   * assert.deepEqual(weights["0.weight"].shape, [6, 1, 5, 5]);
   * model.dispose();
   * ```
   */
  async stateDict(): Promise<Record<string, Tensor>> {
    this.#alive();
    const device = this.gpu.device;
    const flat = {
      params: await readFloats(device, this.parameterBuffer),
      state: this.buffers.length ? await readFloats(device, this.stateBuffer) : new Float32Array(),
    };
    return Object.fromEntries(this.#stateOrder.map(({ info: p, source }) => [
      p.name,
      { shape: p.shape, data: flat[source].slice(p.offset, p.offset + sizeOf(p.shape)) },
    ]));
  }

  /**
   * Replaces every parameter. The names and shapes must be exactly the model's, and the values
   * finite unless `allowNonFinite` (a diverged run's weights would only give NaN); an error names
   * the first tensor that is missing, unexpected, of another shape or not finite.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * const gpu = await requestGpu();
   * const a = new Model(gpu, lenet5({ seed: 1 })), b = new Model(gpu, lenet5({ seed: 2 }));
   * b.loadStateDict(await a.stateDict());
   * assert.deepEqual(await b.stateDict(), await a.stateDict());
   * const nan = await a.stateDict();
   * nan["0.bias"].data[2] = NaN;
   * assert.throws(() => b.loadStateDict(nan), /"0\.bias" has 1 non-finite value/);
   * a.dispose();
   * b.dispose();
   * ```
   */
  loadStateDict(
    tensors: Record<string, Tensor>,
    options: { allowNonFinite?: boolean } = {},
  ): void {
    this.#alive();
    const known = new Set(this.#stateOrder.map(({ info }) => info.name));
    for (const name of Object.keys(tensors)) {
      if (!known.has(name)) {
        throw new RangeError(`unexpected tensor "${name}"; the model has ${[...known].join(", ")}`);
      }
    }
    for (const { info: p } of this.#stateOrder) {
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
      const bad = options.allowNonFinite ? 0 : t.data.filter((v) => !Number.isFinite(v)).length;
      if (bad) {
        throw new RangeError(
          `tensor "${p.name}" has ${bad} non-finite value${
            bad > 1 ? "s" : ""
          } (NaN or infinity): the weights diverged (allowNonFinite / --allow-nonfinite loads them anyway)`,
        );
      }
    }
    for (const { info: p, source } of this.#stateOrder) {
      const buffer = source === "params" ? this.parameterBuffer : this.stateBuffer;
      writeBytes(this.gpu.device, buffer, p.offset * 4, tensors[p.name].data);
    }
  }

  /**
   * Logits and predicted classes for `count` images of the model's input shape (`count ×
   * inputShape` floats, already scaled like the training data: pixels / 255).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * const model = new Model(await requestGpu(), lenet5({ inputSize: 32 }));
   * const { classes } = await model.predict(new Float32Array(32 * 32).fill(0.5), 1);
   * assert.ok(classes[0] >= 0 && classes[0] < 10);
   * model.dispose();
   * ```
   */
  async predict(
    images: Float32Array,
    count: number,
  ): Promise<{ logits: Float32Array; classes: Uint32Array }> {
    this.#alive();
    const per = sizeOf(this.inputShape);
    if (!(Number.isInteger(count) && count > 0)) {
      throw new RangeError(`predict: count must be a positive integer, got ${count}`);
    }
    if (images.length !== count * per) {
      throw new RangeError(
        `predict: ${images.length} floats given, ${count} images of [${this.inputShape}] need ${
          count * per
        }`,
      );
    }
    return await exclusive(this, "predict", async () => {
      const device = this.gpu.device;
      const { plan, predictions, dispatches } = await this.#predictor(count);
      writeBytes(device, plan.x, 0, images);
      KernelRunner.for(device).submit(dispatches);
      const [logits, classes] = await Promise.all([
        readFloats(device, plan.logits, 0, count * this.classes),
        readUints(device, predictions, 0, count),
      ]);
      checkGpu(this.gpu);
      return { logits, classes };
    });
  }

  /** The forward pass plus arg-max for a batch size, prepared once. */
  #predictor(count: number): Promise<Predictor> {
    let p = this.#predictors.get(count);
    if (!p) {
      p = (async () => {
        const plan = await this.plan(count, "eval");
        const predictions = storageBuffer(this.gpu.device, count * 4, "predictions");
        this.#own([predictions]);
        const ops = [...plan.forward, argmaxOp(plan, this.classes, predictions)];
        const dispatches = await KernelRunner.for(this.gpu.device).prepareAll(stepCalls(ops));
        return { plan, predictions, dispatches };
      })();
      this.#predictors.set(count, p);
    }
    return p;
  }

  /**
   * Frees every device buffer of the model: parameters, gradients and all cached plans. The
   * model cannot be used afterwards; an optimiser attached to it should be disposed too.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * const model = new Model(await requestGpu(), lenet5());
   * model.dispose();
   * assert.throws(() => model.plan(8, "eval"), /disposed/);
   * ```
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#plans.clear();
    this.#predictors.clear();
    for (const buffer of this.#owned.splice(0)) buffer.destroy();
    this.parameterBuffer.destroy();
    this.gradientBuffer.destroy();
    this.stateBuffer.destroy();
    this.noiseBuffer.destroy();
  }

  /** Takes ownership of buffers (freed at once when the model is already disposed). */
  #own(buffers: readonly GPUBuffer[]): void {
    if (this.#disposed) { for (const b of buffers) b.destroy(); }
    else this.#owned.push(...buffers);
  }

  /**
   * What a notebook shows for the model: the network and its layer table.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { lenet5, Model, requestGpu } from "../../mod.ts";
   * import { JUPYTER_DISPLAY } from "../../engine.ts";
   * using model = new Model(await requestGpu(), lenet5());
   * const bundle = model[JUPYTER_DISPLAY]();
   * assert.match(bundle["text/html"], /<table>/);
   * ```
   */
  [JUPYTER_DISPLAY](): MediaBundle {
    const s = summary(this.network, this.inputShape);
    return {
      "text/plain": `${this.network}\n${s.text}`,
      "text/html": summaryHtml(s),
    };
  }

  /** {@linkcode Model.dispose}, for `using model = new Model(...)`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** True once {@linkcode Model.dispose} ran. */
  get disposed(): boolean {
    return this.#disposed;
  }
}
