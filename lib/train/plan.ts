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
 * Fusion (`fusion.ts`) is applied here: an activation between a layer that can apply it to its
 * output and a layer that can fold its derivative into its input gradient records no kernel of its
 * own, and a 2×2 pooling after a convolution (and its activation) runs inside the convolution's
 * forward, which writes h1 (h4) only when training, for the backward passes.
 * Which kernel variant each op runs comes from the layers' choosers (`lib/nn/choose.ts`). The
 * model caches one plan per batch size and mode; the trainer, the evaluator, `predict` and the
 * bench compose their steps from it, and {@linkcode formatPlan} prints it
 * (`deno task bench --plan`).
 *
 * @module
 */
import { softmaxCrossEntropy } from "../../kernels/loss.ts";
import { constantBuffer, storageBuffer } from "../gpu/buffers.ts";
import { type BufferSlice, type KernelCall, KernelRunner } from "../gpu/kernel_runner.ts";
import type { PlacedLayer } from "../nn/sequential.ts";
import type { ForwardIO, Layer, Op } from "../nn/layer.ts";
import type { Tuning } from "../nn/choose.ts";
import { type Shape, sizeOf } from "../tensor.ts";
import { checkLimits } from "./plan_limits.ts";
import { fusedActivations, fusedPoolings } from "./fusion.ts";

/** Train: forward, loss with its gradient, backward. Eval: forward and loss. */
export type Mode = "train" | "eval";

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

/** What the plan needs to know of a model. */
export interface PlanModel {
  /** The device. */
  device: GPUDevice;
  /** The leaf layers with their `state_dict` paths. */
  layers: readonly PlacedLayer[];
  /** Per-sample input shape. */
  inputShape: Shape;
  /** Number of classes. */
  classes: number;
  /** Measured variant picks and default rules for the choosers. */
  tuning: Tuning;
}

/**
 * Builds (allocates and compiles) the plan of one step.
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
): Promise<StepPlan> {
  if (!(Number.isInteger(batch) && batch > 0)) {
    throw new RangeError(`batch size must be a positive integer, got ${batch}`);
  }
  checkLimits(model, batch, mode);
  const { device, layers: placed } = model;
  const training = mode === "train";
  const layers = placed.map((p) => p.layer);
  const n = layers.length;
  const fused = fusedActivations(layers);
  const owned: GPUBuffer[] = [];
  const tensors = new Map<string, PlanTensor>();
  const floats = (name: string, shape: Shape, bytes = sizeOf(shape) * 4) => {
    const buffer = storageBuffer(device, bytes, name);
    owned.push(buffer);
    const t: PlanTensor = { name, shape, slice: { buffer } };
    tensors.set(name, t);
    return t;
  };
  const view = (name: string, shape: Shape, of: PlanTensor) => {
    const t: PlanTensor = { name, shape, slice: of.slice, viewOf: of.name };
    tensors.set(name, t);
    return t;
  };

  // Activations: layer i reads outs[i - 1] (x for the first) and writes outs[i]. A fused
  // activation shares its producer's output, which is named after the activation.
  const shapes = [model.inputShape];
  for (const layer of layers) shapes.push(layer.outputShape(shapes.at(-1)!));
  // A pooling fused into the forward of the layer before it (and its activation): poolAfter[p]
  // is the pooling layer whose output layer p writes.
  const pooled = fusedPoolings(layers, fused, shapes);
  const poolAfter = new Map<number, number>();
  pooled.forEach((f, i) => f && poolAfter.set(i - (fused[i - 1] ? 2 : 1), i));
  // When that layer computes no dx (the first), the pooling's backward runs inside its weight
  // gradient too: the gradient of its output is never stored.
  const folded = new Set(
    [...poolAfter].filter(([p]) => p === 0 && layers[p].fuses?.poolBackward).map(([, j]) => j),
  );
  const batched = (i: number): Shape => [batch, ...shapes[i]];
  const x = floats("x", batched(0));
  const outs: PlanTensor[] = [];
  const grads: (PlanTensor | null)[] = [];
  for (let i = 0; i < n; i++) {
    const prev = i ? outs[i - 1] : x;
    const prevGrad = i ? grads[i - 1] : null;
    if (fused[i]) {
      outs.push(prev);
      grads.push(prevGrad);
    } else if (layers[i].reshapeOnly) {
      outs.push(view(`h${i}`, batched(i + 1), prev));
      grads.push(prevGrad && view(`dh${i}`, batched(i + 1), prevGrad));
    } else {
      const name = i === n - 1 ? "logits" : `h${fused[i + 1] ? i + 1 : i}`;
      outs.push(floats(name, batched(i + 1)));
      grads.push(training ? floats(`d${name}`, batched(i + 1)) : null);
    }
  }
  const logits = outs[n - 1];
  if (logits.viewOf || shapes[n].length !== 1) {
    throw new RangeError(
      `the network must end in a layer with [classes] outputs, not ${layers[n - 1]}`,
    );
  }
  const labels = floats("labels", [batch]);
  const rowLoss = floats("rowLoss", [batch]);
  const rowCorrect = floats("rowCorrect", [batch]);

  // Each layer's scratch buffers, named `<path>.<name>`.
  const work = placed.map(({ path, layer }, i) => {
    const slots: Record<string, BufferSlice> = {};
    for (
      const [name, request] of Object.entries(
        layer.workspace(batch, shapes[i], training, model.tuning),
      )
    ) {
      const full = `${path}.${name}`;
      if (typeof request === "number") {
        slots[name] = floats(full, [request / 4], request).slice;
      } else {
        const buffer = constantBuffer(device, request, full);
        owned.push(buffer);
        tensors.set(full, { name: full, shape: [request.length], slice: { buffer } });
        slots[name] = { buffer };
      }
    }
    return slots;
  });

  const name = (layer: Layer) => String(layer).replace(/\(.*$/s, "");
  const label = (i: number) => {
    const { path, layer } = placed[i];
    const act = fused[i + 1] ? ` + ${name(layers[i + 1])}` : "";
    const pool = poolAfter.has(i) ? ` + ${name(layers[poolAfter.get(i)!])}` : "";
    return `${path} ${name(layer)}${act}${pool}`;
  };
  const resolve = (
    i: number,
    slots: readonly string[],
    dy?: PlanTensor | null,
    dx?: PlanTensor | null,
  ) =>
    slots.map((slot) => {
      const path = placed[i].path;
      switch (slot) {
        case "x":
          return i ? outs[i - 1].name : "x";
        case "y":
          return outs[i].name;
        case "dy":
          return dy?.name ?? "?";
        case "dx":
          return dx?.name ?? "?";
        case "params":
          return `w${path}`;
        case "grads":
          return `dw${path}`;
        case "pooled":
          return outs[poolAfter.get(i)!].name;
        case "pooled.argmax":
          return `${placed[poolAfter.get(i)!].path}.argmax`;
        case "pooled.dy":
          return grads[poolAfter.get(i)!]?.name ?? "?";
        default:
          return slot.startsWith("work.") ? `${path}.${slot.slice(5)}` : slot;
      }
    });

  /** Layer `i`'s ops with their slots named as the plan's tensors. */
  const place = (i: number, ops: Op[], dy?: PlanTensor | null, dx?: PlanTensor | null) =>
    ops.map((op): PlanOp => ({
      ...op,
      layer: label(i),
      inputs: resolve(i, op.reads, dy, dx),
      outputs: resolve(i, op.writes, dy, dx),
    }));

  /** Layer `i`'s forward buffers; its backward gets these plus the gradients. */
  const forwardIO = (i: number): ForwardIO => ({
    batch,
    input: shapes[i],
    x: (i ? outs[i - 1] : x).slice,
    y: outs[i].slice,
    work: work[i],
    activation: fused[i + 1] ? layers[i + 1].activation : undefined,
    tuning: model.tuning,
  });
  /** Forward also writes the fused pooling's output (its own input only when training). */
  const poolingIO = (i: number): ForwardIO["pool"] => {
    const j = poolAfter.get(i);
    if (j === undefined) return undefined;
    return {
      kind: layers[j].fusiblePooling!(shapes[j])!,
      out: outs[j].slice,
      argmax: work[j].argmax,
      keepInput: training,
    };
  };

  const forward: PlanOp[] = [];
  for (let i = 0; i < n; i++) {
    if (fused[i] || pooled[i]) continue;
    forward.push(...place(i, layers[i].forward({ ...forwardIO(i), pool: poolingIO(i) })));
  }

  const dlogits = grads[n - 1];
  const loss: PlanOp[] = [{
    name: "cross_entropy",
    layer: "loss",
    variant: training ? "loss + gradient" : "loss",
    why: "log-softmax around the row maximum (no cancellation); the gradient in the same pass",
    inputs: ["logits", "labels"],
    outputs: ["rowLoss", "rowCorrect", ...(dlogits ? [dlogits.name] : [])],
    flops: 6 * batch * model.classes,
    bytes: 4 * batch * (model.classes * (training ? 2 : 1) + 3),
    calls: [{
      kernel: softmaxCrossEntropy({ batch, classes: model.classes, gradient: training }),
      buffers: [
        logits.slice,
        labels.slice,
        rowLoss.slice,
        rowCorrect.slice,
        ...(dlogits ? [dlogits.slice] : []),
      ],
    }],
  }];

  const backward: PlanOp[] = [];
  if (training) {
    for (let i = n - 1; i >= 0; i--) {
      if (fused[i] || folded.has(i)) continue;
      const dy = grads[i]!;
      const dx = i ? grads[i - 1] : null;
      const j = poolAfter.get(i);
      const ops = layers[i].backward({
        ...forwardIO(i),
        dy: dy.slice,
        dx: dx?.slice ?? null,
        gate: i > 0 && fused[i - 1] ? layers[i - 1].activation : undefined,
        dyPooled: j !== undefined && folded.has(j)
          ? {
            kind: layers[j].fusiblePooling!(shapes[j])!,
            dpool: grads[j]!.slice,
            argmax: work[j].argmax,
            gate: fused[i + 1] ? layers[i + 1].activation : undefined,
          }
          : undefined,
      });
      backward.push(...place(i, ops, dy, dx));
    }
  }

  const plan: StepPlan = {
    batch,
    mode,
    tensors,
    x: x.slice.buffer,
    labels: labels.slice.buffer,
    logits: logits.slice.buffer,
    rowLoss: rowLoss.slice.buffer,
    rowCorrect: rowCorrect.slice.buffer,
    forward,
    loss,
    backward,
    owned,
  };
  // Compile everything now, so that the first step is not slower than the rest.
  const runner = KernelRunner.for(device);
  await Promise.all(
    stepCalls([...forward, ...loss, ...backward]).map((c) => runner.pipeline(c.kernel)),
  );
  return plan;
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
