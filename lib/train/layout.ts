/**
 * The layout of one step, worked out before anything is allocated: the fusion groups
 * (`fusion.ts`), and every tensor of the step with its name, shape and bytes, with each layer's
 * slots (its input, output, their gradients, its scratch buffers) named as those tensors. The
 * step plan (`plan.ts`) allocates exactly this list, and the limit check (`plan_limits.ts`) reads
 * the same list: one home for what a step holds.
 *
 * Names: `x` the input; `h<i>` the output of layer i (a fused activation's producer writes it
 * under the activation's index), `logits` the last; `d<name>` its gradient; `<path>.<name>` a
 * layer's scratch buffer; `labels`, `rowLoss`, `rowCorrect` the loss's.
 *
 * @module
 */
import type { FusibleActivation } from "../../kernels/activation.ts";
import type { Tuning } from "../nn/choose.ts";
import type { BufferSlice } from "../gpu/kernel_runner.ts";
import type { PlacedLayer } from "../nn/sequential.ts";
import { type Shape, sizeOf } from "../tensor.ts";
import { fusibleKind, type FusionGroup, fusionGroups } from "./fusion.ts";
import { fusiblePoolingOf, fusing } from "../nn/fused.ts";

/**
 * Train: forward, loss with its gradient, backward. Eval: forward and loss. Saliency: forward,
 * then backward from a logit gradient the caller writes, down to the gradient of the input
 * (`dx`), for saliency maps: as train, but no pooling's backward folded away and no loss op.
 */
export type Mode = "train" | "eval" | "saliency";

/** What the layout needs to know of a model (its layers bound to their parameter segments). */
export interface LayoutModel {
  /** The leaf layers with their `state_dict` paths. */
  layers: readonly PlacedLayer[];
  /** Per-sample input shape. */
  inputShape: Shape;
  /** Number of classes. */
  classes: number;
  /** Measured variant picks and default rules for the choosers. */
  tuning: Tuning;
  /** The uniform a training step's random draws come from (see `ForwardIO.noise`). */
  noise: BufferSlice;
  /** Whether the fusion pass runs (`fusion.ts`); default true. */
  fuse?: boolean;
}

/** A tensor of the step, before allocation. */
export interface LayoutTensor {
  /** Its name in the plan. */
  name: string;
  /** Shape, batch first for activations; `[floats]` for scratch and constants. */
  shape: Shape;
  /** Bytes of its buffer (0 for a view of another tensor). */
  bytes: number;
  /** What it is, for messages: `the output of 3 Conv2d(...)`. */
  what: string;
  /** Another tensor's buffer seen with this shape (a Flatten's output is its input). */
  viewOf?: string;
  /** A uniform buffer holding these constants (views' chunk constants), not storage. */
  constants?: Uint32Array;
}

/** A layer's slots, named as the layout's tensors. */
export interface LayerSlots {
  /** Its input. */
  x: string;
  /** Its output (for a fused activation: its producer's, which it names). */
  y: string;
  /** The gradient of its input, when one is stored. */
  dx?: string;
  /** The gradient of its output, when one is stored. */
  dy?: string;
  /** Its scratch buffers: slot name → tensor name. */
  work: Record<string, string>;
}

/** The layout of one step. */
export interface StepLayout {
  /** Batch size. */
  batch: number;
  /** Mode. */
  mode: Mode;
  /** Per-sample shapes: `shapes[i]` is layer i's input, `shapes[n]` the logits'. */
  shapes: readonly Shape[];
  /** The fusion groups, in order. */
  groups: readonly FusionGroup[];
  /** Every tensor, in order of creation. */
  tensors: readonly LayoutTensor[];
  /** Each layer's slots. */
  slots: readonly LayerSlots[];
  /** The activation whose derivative each layer's backward multiplies its dx by (fused). */
  gates: readonly (FusibleActivation | undefined)[];
}

/**
 * The layout of a step: pure arithmetic over the model's layers, nothing allocated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu } from "../../mod.ts";
 * const model = new Model(await requestGpu(), lenet5());
 * const layout = model.layout(256, "train");
 * const h1 = layout.tensors.find((t) => t.name === "h1")!;
 * assert.deepEqual([h1.shape, h1.bytes], [[256, 6, 28, 28], 256 * 6 * 28 * 28 * 4]);
 * // The pooling's backward runs inside conv1's weight gradient: dh1 is never stored.
 * assert.equal(layout.tensors.some((t) => t.name === "dh1"), false);
 * model.dispose();
 * ```
 */
export function stepLayout(model: LayoutModel, batch: number, mode: Mode): StepLayout {
  if (!(Number.isInteger(batch) && batch > 0)) {
    throw new RangeError(`batch size must be a positive integer, got ${batch}`);
  }
  const training = mode !== "eval";
  const layers = model.layers.map((p) => p.layer);
  const n = layers.length;
  const shapes = [model.inputShape];
  for (const layer of layers) shapes.push(layer.outputShape(shapes.at(-1)!));
  if (shapes[n].length !== 1 || layers[n - 1].reshapeOnly) {
    throw new RangeError(
      `the network must end in a layer with [classes] outputs, not ${layers[n - 1]}`,
    );
  }
  const groups = fusionGroups(layers, shapes, {
    inputGradient: mode === "saliency",
    fuse: model.fuse,
    // Inference normalises with fixed statistics: BatchNorm folds into the convolution before.
    foldNorms: mode === "eval",
  });
  const tensors: LayoutTensor[] = [];
  const add = (t: LayoutTensor) => (tensors.push(t), t.name);
  const batched = (i: number): Shape => [batch, ...shapes[i]];
  const describe = (i: number) => `${model.layers[i].path} ${layers[i]}`;

  add({
    name: "x",
    shape: batched(0),
    bytes: 4 * batch * sizeOf(shapes[0]),
    what: `the input x [${batched(0)}]`,
  });
  const slots: LayerSlots[] = [];
  const gates: (FusibleActivation | undefined)[] = [];
  let x = "x";
  let dx = mode === "saliency"
    ? add({
      name: "dx",
      shape: batched(0),
      bytes: 4 * batch * sizeOf(shapes[0]),
      what: `the gradient of the input [${batched(0)}]`,
    })
    : undefined;
  for (const group of groups) {
    const members = [group.producer, group.norm, group.activation, group.pool]
      .filter((i) => i !== undefined);
    for (const i of members) {
      const out = outputOf(i, group, n);
      const shape = batched(i + 1);
      // A fused activation's (or folded BatchNorm's) output is its producer's tensor; a
      // Flatten's, a view of its input.
      const inProducer = i === group.activation || i === group.norm;
      const y = inProducer ? slots[group.producer].y : out;
      if (!inProducer) {
        const what = `the output of ${describe(i)} [${shape}]`;
        add(
          layers[i].reshapeOnly
            ? { name: y, shape, bytes: 0, what, viewOf: x }
            : { name: y, shape, bytes: 4 * batch * sizeOf(shapes[i + 1]), what },
        );
      }
      // The gradient of the output: not stored when a folded pooling's backward computes it.
      const stored = training && !(group.foldedBackward && i !== group.pool);
      let dy: string | undefined = inProducer ? slots[group.producer].dy : undefined;
      if (stored && !inProducer) {
        const what = `the gradient of the output of ${describe(i)} [${shape}]`;
        dy = add(
          layers[i].reshapeOnly
            ? { name: `d${y}`, shape, bytes: 0, what, viewOf: dx }
            : { name: `d${y}`, shape, bytes: 4 * batch * sizeOf(shapes[i + 1]), what },
        );
      }
      slots[i] = { x, y, dx, dy, work: {} };
      gates[i] = i > 0 && groups.some((g) => g.activation === i - 1)
        ? fusibleKind(layers[i - 1])
        : undefined;
      x = y;
      dx = dy;
    }
  }
  for (const name of ["labels", "rowLoss", "rowCorrect"]) {
    add({ name, shape: [batch], bytes: 4 * batch, what: `the loss's ${name} [${batch}]` });
  }
  addWorkspaces(model, groups, shapes, batch, training, slots, add);
  addFoldedWeights(model, groups, slots, add);
  return { batch, mode, shapes, groups, tensors, slots, gates };
}

/**
 * Layer i's output name: `logits` for the last, else `h<i>` (for a producer, the index of the
 * activation or BatchNorm whose output it writes).
 */
function outputOf(i: number, group: FusionGroup, n: number): string {
  if (i === n - 1) return "logits";
  return i === group.producer ? `h${group.activation ?? group.norm ?? i}` : `h${i}`;
}

/**
 * The weights of a convolution with its BatchNorm folded in (inference), `<path>.folded`: made
 * from both layers' parameters by each step's first op, then read as the convolution's own.
 */
function addFoldedWeights(
  model: LayoutModel,
  groups: readonly FusionGroup[],
  slots: LayerSlots[],
  add: (t: LayoutTensor) => string,
): void {
  for (const { producer, norm } of groups) {
    if (norm === undefined) continue;
    const { path, layer } = model.layers[producer];
    const floats = layer.parameters.reduce((n, p) => n + p.data.length, 0);
    const name = `${path}.folded`;
    const what = `the weights of ${path} ${layer} with ${model.layers[norm].layer} folded in`;
    slots[producer].work.folded = add({ name, shape: [floats], bytes: 4 * floats, what });
  }
}

/** Each layer's scratch buffers, asked with the fusion it runs under, named `<path>.<name>`. */
function addWorkspaces(
  model: LayoutModel,
  groups: readonly FusionGroup[],
  shapes: readonly Shape[],
  batch: number,
  training: boolean,
  slots: LayerSlots[],
  add: (t: LayoutTensor) => string,
): void {
  const pooling = (i: number | undefined) =>
    i === undefined ? undefined : fusiblePoolingOf(model.layers[i].layer, shapes[i]) ?? undefined;
  const fusion = new Map(groups.map((g) => [g.producer, {
    pool: pooling(g.pool),
    pooledDy: g.foldedBackward ? pooling(g.pool) : undefined,
  }]));
  model.layers.forEach(({ path, layer }, i) => {
    const fused = fusion.get(i);
    const requests = fused && (fused.pool || fused.pooledDy)
      ? fusing(layer, "pool").workspace(batch, shapes[i], training, model.tuning, fused)
      : layer.workspace(batch, shapes[i], training, model.tuning);
    for (const [slot, request] of Object.entries(requests)) {
      const name = `${path}.${slot}`;
      const what = `${name} of ${layer}`;
      slots[i].work[slot] = add(
        typeof request === "number"
          ? { name, shape: [request / 4], bytes: request, what }
          : { name, shape: [request.length], bytes: request.byteLength, what, constants: request },
      );
    }
  });
}
