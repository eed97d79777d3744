/**
 * The step plan: for a model, a batch size and a mode, the explicit list of ops of one step over
 * named tensors, as llm.c's `gpt2_forward` is a flat list of calls. For LeNet-5 (sigmoid, avg):
 *
 *   forward   x[B,1,28,28] → conv 0 (+sigmoid 1, +avgpool 2) → h1[B,6,28,28], h2[B,6,14,14]
 *             → conv 3 (+sigmoid 4, +avgpool 5) → h4[B,16,10,10], h5[B,16,5,5] = h6[B,400]
 *             → linear 7 (+sigmoid 8) → h8[B,120] → linear 9 (+sigmoid 10) → h10[B,84]
 *             → linear 11 → logits[B,10]
 *   loss      logits, labels → rowLoss, rowCorrect (+ dlogits when training)
 *   backward  the same layers last to first, each writing its parameters' gradients dw<i> and
 *             (but the first) its input's gradient d<input>, with the activation before it fused.
 *
 * The layout (`layout.ts`) comes first: the fusion groups (`fusion.ts`: an activation between a
 * layer that can apply it to its output and one that can fold its derivative into its input
 * gradient records no kernel of its own; a 2×2 pooling after a convolution and its activation runs
 * inside the convolution's forward, which writes h1 (h4) only when training; the first
 * convolution's weight gradient computes its dy from the pooling's gradient) and every tensor with
 * its bytes. The plan allocates that list, then asks each group's producer for its ops. Which
 * kernel variant each op runs comes from the candidate tables (`lib/nn/choose.ts`). The model
 * caches one plan per batch size and mode; the trainer, the evaluator, `predict` and the bench
 * compose their steps from it, and {@linkcode formatPlan} prints it (`deno task bench --plan`).
 *
 * @module
 */
import { softmaxCrossEntropy } from "../../kernels/loss.ts";
import { constantBuffer, storageBuffer } from "../gpu/buffers.ts";
import { type BufferSlice, type KernelCall, KernelRunner } from "../gpu/kernel_runner.ts";
import type { BackwardIO, ForwardIO, Op } from "../nn/layer.ts";
import type { Shape } from "../tensor.ts";
import { fusibleKind, type FusionGroup } from "./fusion.ts";
import { fusiblePoolingOf, fusing } from "../nn/fused.ts";
import type { BatchNorm } from "../nn/batchnorm.ts";
import type { Conv2d } from "../nn/conv2d.ts";
import {
  type LayoutModel,
  type LayoutTensor,
  type Mode,
  type StepLayout,
  stepLayout,
} from "./layout.ts";
import { checkLimits } from "./plan_limits.ts";

export type { Mode } from "./layout.ts";

/** A tensor of a plan: a buffer (or a part of one) with a name and a batch-first shape. */
export interface PlanTensor {
  /** Name in the plan, e.g. `x`, `h4`, `dh4`, `w3`, `3.partial`. */
  name: string;
  /** Shape, batch first for activations. */
  shape: Shape;
  /** Where it lives. */
  slice: BufferSlice;
  /** Set when this tensor is another one's buffer (a Flatten's output is its input). */
  viewOf?: string;
}

/** One op of a plan: a layer's op with its slots resolved to tensor names. */
export interface PlanOp {
  /** What it computes, e.g. `conv2d.forward`. */
  name: string;
  /** The layer it belongs to (`3 Conv2d(6, 16, ...)`), or the step's part (`data`, `loss`). */
  layer: string;
  /** The kernel variant. */
  variant: string;
  /** Why that variant. */
  why: string;
  /** Tensors read. */
  inputs: readonly string[];
  /** Tensors written. */
  outputs: readonly string[];
  /** Floating-point operations. */
  flops: number;
  /** Bytes read and written. */
  bytes: number;
  /** Its kernel calls. */
  calls: readonly KernelCall[];
  /** For ops with candidate variants: the tuning key and the candidates' names. */
  tuning?: { readonly key: string; readonly alternatives: readonly string[] };
}

/** The buffers and ops of one step for a batch size and mode. */
export interface StepPlan {
  /** Batch size. */
  batch: number;
  /** Mode. */
  mode: Mode;
  /** Every tensor by name, in order of creation. */
  tensors: ReadonlyMap<string, PlanTensor>;
  /** Input images [batch, ...inputShape] (f32). */
  x: GPUBuffer;
  /** Labels [batch] (u32). */
  labels: GPUBuffer;
  /** Logits [batch, classes]. */
  logits: GPUBuffer;
  /** Per-image loss [batch]. */
  rowLoss: GPUBuffer;
  /** Per-image correctness (0 or 1) [batch]. */
  rowCorrect: GPUBuffer;
  /** Forward ops. */
  forward: readonly PlanOp[];
  /** The loss op (and, when training, the logit gradient). */
  loss: readonly PlanOp[];
  /** Backward ops (empty unless training). */
  backward: readonly PlanOp[];
  /** Every buffer the plan allocated (its model frees them on `dispose`). */
  owned: readonly GPUBuffer[];
}

/** How a plan's loss is computed (training): PyTorch's `CrossEntropyLoss` options. */
export interface PlanOptions {
  /** `label_smoothing` ε: the target is (1 − ε)·one-hot + ε/classes. Default 0. */
  labelSmoothing?: number;
}

/** What the plan needs to know of a model: its layout's inputs, and the device. */
export interface PlanModel extends LayoutModel {
  /** The device. */
  device: GPUDevice;
}

/**
 * Builds (allocates and compiles) the plan of one step: checks the layout against the device's
 * buffer limit, allocates its tensors, records the ops and compiles their pipelines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu } from "../../mod.ts";
 * const model = new Model(await requestGpu(), lenet5());
 * const plan = await model.plan(8, "eval");
 * // Each pooling runs inside the convolution before it; inference writes only the pooled maps.
 * assert.deepEqual(plan.forward.map((op) => op.outputs[0]), ["h2", "h5", "h8", "h10", "logits"]);
 * model.dispose();
 * ```
 */
export async function buildStepPlan(
  model: PlanModel,
  batch: number,
  mode: Mode,
  options: PlanOptions = {},
): Promise<StepPlan> {
  const layout = stepLayout(model, batch, mode);
  checkLimits(model, layout);
  const { device } = model;
  const plan = describeStep(
    model,
    layout,
    options,
    (t) =>
      t.constants
        ? { buffer: constantBuffer(device, t.constants, t.name) }
        : { buffer: storageBuffer(device, t.bytes, t.name) },
  );
  // Compile everything now, so that the first step is not slower than the rest: one pipeline at
  // a time, with a turn of the event loop between two. A compile is a native call that blocks
  // the thread (lavapipe compiles on it), so a signal (Ctrl-C) can only be handled between two;
  // started all at once, they ran back to back and a signal waited for the last.
  const runner = KernelRunner.for(device);
  for (const call of stepCalls([...plan.forward, ...plan.loss, ...plan.backward])) {
    const before = runner.cachedPipelines;
    await runner.pipeline(call.kernel);
    // Only after a real compile: a turn costs ~2 ms, and most calls find their pipeline cached.
    if (runner.cachedPipelines > before) await new Promise((turn) => setTimeout(turn, 0));
  }
  return plan;
}

/**
 * The plan of a layout with buffers from `allocate` (called once per tensor that is not a view),
 * nothing compiled. With placeholder buffers it describes a plan without a device, which is how
 * the golden plans are printed.
 */
export function describeStep(
  model: LayoutModel,
  layout: StepLayout,
  options: PlanOptions,
  allocate: (tensor: LayoutTensor) => BufferSlice,
): StepPlan {
  const tensors = new Map<string, PlanTensor>();
  const owned: GPUBuffer[] = [];
  for (const t of layout.tensors) {
    const slice = t.viewOf ? tensors.get(t.viewOf)!.slice : allocate(t);
    if (!t.viewOf) owned.push(slice.buffer);
    tensors.set(t.name, { name: t.name, shape: t.shape, slice, viewOf: t.viewOf });
  }
  const ops = new StepOps(model, layout, tensors, options);
  const slice = (name: string) => tensors.get(name)!.slice.buffer;
  return {
    batch: layout.batch,
    mode: layout.mode,
    tensors,
    x: slice("x"),
    labels: slice("labels"),
    logits: slice("logits"),
    rowLoss: slice("rowLoss"),
    rowCorrect: slice("rowCorrect"),
    forward: layout.groups.flatMap((g) => ops.forward(g)),
    // Saliency: the caller writes the logit gradient (one-hot of the class to explain).
    loss: layout.mode === "saliency" ? [] : [ops.loss()],
    backward: layout.mode === "eval"
      ? []
      : layout.groups.toReversed().flatMap((g) => ops.backward(g)),
    owned,
  };
}

/** The ops of a step's groups, over the layout's allocated tensors. */
class StepOps {
  #model: LayoutModel;
  #layout: StepLayout;
  #tensors: ReadonlyMap<string, PlanTensor>;
  #options: PlanOptions;

  constructor(
    model: LayoutModel,
    layout: StepLayout,
    tensors: ReadonlyMap<string, PlanTensor>,
    options: PlanOptions,
  ) {
    this.#model = model;
    this.#layout = layout;
    this.#tensors = tensors;
    this.#options = options;
  }

  #slice(name: string): BufferSlice {
    return this.#tensors.get(name)!.slice;
  }

  /** Layer `i`'s forward buffers; backward adds its gradients. */
  #io(i: number): ForwardIO {
    const slots = this.#layout.slots[i];
    return {
      batch: this.#layout.batch,
      input: this.#layout.shapes[i],
      x: this.#slice(slots.x),
      y: this.#slice(slots.y),
      work: Object.fromEntries(
        Object.entries(slots.work).map(([slot, name]) => [slot, this.#slice(name)]),
      ),
      tuning: this.#model.tuning,
      training: this.#layout.mode === "train",
      noise: this.#model.noise,
      position: i,
    };
  }

  /** The group's pooling: its kind, output and argmax. */
  #pooling(group: FusionGroup) {
    const j = group.pool!;
    const argmax = this.#layout.slots[j].work.argmax;
    return {
      kind: fusiblePoolingOf(this.#model.layers[j].layer, this.#layout.shapes[j])!,
      out: this.#slice(this.#layout.slots[j].y),
      argmax: argmax === undefined ? undefined : this.#slice(argmax),
    };
  }

  /** The activation fused into the group's producer, if any. */
  #activation(group: FusionGroup) {
    const j = group.activation;
    return j === undefined ? undefined : fusibleKind(this.#model.layers[j].layer);
  }

  /** The forward ops of a group: its producer's, with the activation and pooling fused in. */
  forward(group: FusionGroup): PlanOp[] {
    const i = group.producer;
    const layer = this.#model.layers[i].layer;
    if (group.activation === undefined && group.pool === undefined && group.norm === undefined) {
      return this.#place(i, group, layer.forward(this.#io(i)));
    }
    const pool = group.pool === undefined
      ? undefined
      : { ...this.#pooling(group), keepInput: this.#layout.mode !== "eval" };
    const producer = fusing(layer, pool ? "pool" : "activation");
    const folding = group.norm === undefined ? undefined : this.#folding(i, group.norm);
    const io = {
      ...this.#io(i),
      activation: this.#activation(group),
      pool,
      weights: folding?.weights,
    };
    return this.#place(i, group, [...folding?.ops ?? [], ...producer.forward(io)]);
  }

  /** The op folding BatchNorm `j` into convolution `i`'s weights, and the weights it makes. */
  #folding(i: number, j: number) {
    const conv = this.#model.layers[i].layer as Conv2d,
      norm = this.#model.layers[j].layer as BatchNorm;
    const folded = this.#slice(this.#layout.slots[i].work.folded);
    const { params, uniformParams } = conv.segment;
    const perChannel = conv.parameters[0].data.length / conv.outChannels;
    return {
      ops: [norm.foldOp({ params, perChannel }, folded)],
      weights: {
        params: folded,
        uniformParams: uniformParams && { buffer: folded.buffer, size: uniformParams.size },
        slot: "work.folded",
      },
    };
  }

  /** The backward ops of a group: a pooling's not folded in, then the producer's. */
  backward(group: FusionGroup): PlanOp[] {
    const ops: PlanOp[] = [];
    if (group.pool !== undefined && !group.foldedBackward) {
      ops.push(...this.#backwardOf(group.pool, group));
    }
    ops.push(...this.#backwardOf(group.producer, group));
    return ops;
  }

  #backwardOf(i: number, group: FusionGroup): PlanOp[] {
    const { slots, gates } = this.#layout;
    const layer = this.#model.layers[i].layer;
    const io: BackwardIO = {
      ...this.#io(i),
      dy: slots[i].dy ? this.#slice(slots[i].dy!) : null,
      dx: slots[i].dx ? this.#slice(slots[i].dx!) : null,
    };
    const gate = gates[i];
    const dyPooled = i === group.producer && group.foldedBackward
      ? {
        ...this.#pooling(group),
        dpool: this.#slice(slots[group.pool!].dy!),
        gate: this.#activation(group),
      }
      : undefined;
    if (!gate && !dyPooled) return this.#place(i, group, layer.backward(io));
    const fused = fusing(layer, dyPooled ? "poolBackward" : "gate");
    const activation = i === group.producer ? this.#activation(group) : undefined;
    return this.#place(i, group, fused.backward({ ...io, activation, gate, dyPooled }));
  }

  /** The loss op (and, when training, the logit gradient). */
  loss(): PlanOp {
    const { batch, mode } = this.#layout;
    const classes = this.#model.classes;
    const training = mode === "train";
    const dlogits = training ? ["dlogits"] : [];
    return {
      name: "cross_entropy",
      layer: "loss",
      variant: training ? "loss + gradient" : "loss",
      why: "log-softmax around the row maximum (no cancellation); the gradient in the same pass",
      inputs: ["logits", "labels"],
      outputs: ["rowLoss", "rowCorrect", ...dlogits],
      flops: 6 * batch * classes,
      bytes: 4 * batch * (classes * (training ? 2 : 1) + 3),
      calls: [{
        kernel: softmaxCrossEntropy({
          batch,
          classes,
          gradient: training,
          labelSmoothing: training ? this.#options.labelSmoothing : undefined,
        }),
        buffers: ["logits", "labels", "rowLoss", "rowCorrect", ...dlogits].map((n) =>
          this.#slice(n)
        ),
      }],
    };
  }

  /** Layer `i`'s ops with their slots named as the plan's tensors, labelled with its group. */
  #place(i: number, group: FusionGroup, ops: Op[]): PlanOp[] {
    const { path, layer } = this.#model.layers[i];
    const name = (j: number | undefined) =>
      j === undefined ? "" : ` + ${String(this.#model.layers[j].layer).replace(/\(.*$/s, "")}`;
    const label = `${path} ${String(layer).replace(/\(.*$/s, "")}${
      i === group.producer ? name(group.norm) + name(group.activation) + name(group.pool) : ""
    }`;
    const resolve = (slots: readonly string[]) =>
      slots.map((slot) => this.#slotName(i, group, slot));
    return ops.map((op) => ({
      ...op,
      layer: label,
      inputs: resolve(op.reads),
      outputs: resolve(op.writes),
    }));
  }

  /** The tensor an op's slot names. */
  #slotName(i: number, group: FusionGroup, slot: string): string {
    const slots = this.#layout.slots;
    const path = this.#model.layers[i].path;
    const pool = group.pool;
    switch (slot) {
      case "x":
      case "y":
        return slots[i][slot];
      case "dy":
      case "dx":
        return slots[i][slot] ?? "?";
      case "params":
        return `w${path}`;
      case "state":
        return `${path}.state`;
      case "norm.params":
        return `w${this.#model.layers[group.norm!].path}`;
      case "norm.state":
        return `${this.#model.layers[group.norm!].path}.state`;
      case "grads":
        return `dw${path}`;
      case "pooled":
        return slots[pool!].y;
      case "pooled.argmax":
        return `${this.#model.layers[pool!].path}.argmax`;
      case "pooled.dy":
        return slots[pool!].dy ?? "?";
      default:
        return slot.startsWith("work.") ? `${path}.${slot.slice(5)}` : slot;
    }
  }
}

/** Destroys every buffer a plan allocated. */
export function destroyPlan(plan: StepPlan): void {
  for (const buffer of plan.owned) buffer.destroy();
}

/** The kernel calls of `ops`, in order. */
export function stepCalls(ops: readonly PlanOp[]): KernelCall[] {
  return ops.flatMap((op) => op.calls);
}

const mega = (v: number) => (v / 1e6).toFixed(v >= 1e7 ? 0 : 2);

/**
 * The ops as a table: one line each with its layer, variant, inputs → outputs (with shapes) and
 * cost, then each distinct variant with the reason it was chosen.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu } from "../../mod.ts";
 * import { formatPlan } from "../../engine.ts";
 * const model = new Model(await requestGpu(), lenet5());
 * const plan = await model.plan(4, "train");
 * const text = formatPlan([...plan.forward, ...plan.loss, ...plan.backward], plan.tensors);
 * assert.match(text, /conv2d\.forward .* x\[4,1,28,28\], w0 → h1\[4,6,28,28\]/);
 * model.dispose();
 * ```
 */
export function formatPlan(
  ops: readonly PlanOp[],
  tensors: ReadonlyMap<string, PlanTensor>,
): string {
  const shaped = (name: string) => {
    const t = tensors.get(name);
    return t && !name.includes(".") && !/^d?w/.test(name) ? `${name}[${t.shape.join(",")}]` : name;
  };
  const rows = ops.map((op) => [
    op.layer,
    op.name,
    op.variant,
    `${op.inputs.map(shaped).join(", ")} → ${op.outputs.map(shaped).join(", ")}`,
    mega(op.flops),
    mega(op.bytes),
    String(op.calls.length),
  ]);
  const head = ["layer", "op", "variant", "reads → writes", "MFLOP", "MB", "calls"];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((v, c) => (c >= 4 ? v.padStart(widths[c]) : v.padEnd(widths[c]))).join("  ").trimEnd();
  const flops = ops.reduce((s, op) => s + op.flops, 0),
    bytes = ops.reduce((s, op) => s + op.bytes, 0);
  const calls = ops.reduce((s, op) => s + op.calls.length, 0);
  const reasons = new Map<string, string>();
  for (const op of ops) reasons.set(`${op.name} ${op.variant}`, op.why);
  return [
    line(head),
    ...rows.map(line),
    `total: ${mega(flops)} MFLOP, ${mega(bytes)} MB moved, ${calls} dispatches`,
    "",
    "why each variant:",
    ...[...reasons].map(([k, why]) => `  ${k}: ${why}`),
  ].join("\n");
}
