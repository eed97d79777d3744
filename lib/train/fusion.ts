/**
 * Which activation layers the step plan fuses into their neighbours: an activation between a
 * layer that can apply it to its output and one that can fold its derivative into its input
 * gradient records no kernel of its own.
 *
 * @module
 */
import { type FusibleActivation, isFusible } from "../../kernels/activation.ts";
import type { Layer, Shape } from "../nn/layer.ts";
import { activationOf, fusesOf, fusiblePoolingOf } from "../nn/fused.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv2d.ts";

/**
 * Which activation layers are fused into their neighbours: those of a fusible kind (the
 * derivative taken from the output, no arguments: `ACTIVATIONS`) between a layer that applies
 * an activation to its output (`fuses.activation`) and one that folds its derivative into its
 * input gradient (`fuses.gate`): the contract of `lib/nn/fused.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fusedActivations } from "./fusion.ts";
 * import { lenet5 } from "../nn/lenet.ts";
 * const fused = fusedActivations(lenet5().flat().map((p) => p.layer));
 * assert.deepEqual(fused.flatMap((f, i) => (f ? [i] : [])), [1, 4, 8, 10]);
 * ```
 */
export function fusedActivations(layers: readonly Layer[]): boolean[] {
  const n = layers.length;
  return layers.map((layer, i) =>
    fusibleKind(layer) !== undefined && i > 0 && i + 1 < n &&
    fusesOf(layers[i - 1]).activation === true && fusesOf(layers[i + 1]).gate === true
  );
}

/**
 * The activation kind of an activation layer whose kind may be fused, else undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fusibleKind } from "./fusion.ts";
 * import { GELU, Tanh } from "../nn/activation.ts";
 * assert.equal(fusibleKind(new Tanh()), "tanh");
 * assert.equal(fusibleKind(new GELU()), undefined); // its derivative needs its input
 * ```
 */
export function fusibleKind(layer: Layer): FusibleActivation | undefined {
  const kind = activationOf(layer);
  return kind !== undefined && isFusible(kind) ? kind : undefined;
}

/**
 * Which pooling layers run inside the forward of the layer before them (and of its fused
 * activation): 2×2, stride-2 poolings (`fusiblePooling`) after a layer that can pool its output
 * (`fuses.pool`). Their forward records no kernel; their backward stays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fusedActivations, fusedPoolings } from "./fusion.ts";
 * import { lenet5 } from "../nn/lenet.ts";
 * const layers = lenet5().flat().map((p) => p.layer);
 * const shapes: (readonly number[])[] = [[1, 28, 28]];
 * for (const layer of layers) shapes.push(layer.outputShape(shapes.at(-1)!));
 * const fused = fusedPoolings(layers, fusedActivations(layers), shapes);
 * assert.deepEqual(fused.flatMap((f, i) => (f ? [i] : [])), [2, 5]);
 * ```
 */
export function fusedPoolings(
  layers: readonly Layer[],
  activations: readonly boolean[],
  inputs: readonly Shape[],
): boolean[] {
  return layers.map((layer, i) => {
    const producer = i - (i > 0 && activations[i - 1] ? 2 : 1);
    return producer >= 0 && fusesOf(layers[producer]).pool === true &&
      fusiblePoolingOf(layer, inputs[i]) !== null;
  });
}

/**
 * A run of layers whose forward is one kernel: the producer (a layer that records ops), the
 * activation applied in its epilogue, and the 2×2 pooling run inside it. `foldedBackward`: the
 * pooling's backward also runs inside the producer's weight gradient (a producer with no dx, the
 * first layer), so the gradient of the producer's output is never stored.
 */
export interface FusionGroup {
  /** The layer whose kernels run. */
  producer: number;
  /** The activation layer fused into the producer's output, if any. */
  activation?: number;
  /** The pooling layer fused into the producer's forward, if any. */
  pool?: number;
  /** The pooling's backward runs inside the producer's weight gradient. */
  foldedBackward: boolean;
  /** The BatchNorm folded into the producer's weights (inference only), if any. */
  norm?: number;
}

/**
 * The fusion groups of a network, in order: every layer is the producer of one group or a
 * member of one (see {@linkcode FusionGroup}); `inputs[i]` is layer i's per-sample input shape;
 * `inputGradient`: the first layer computes the gradient of the input (saliency); `fuse: false`
 * turns the pass off (every network must run the same without it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fusionGroups } from "./fusion.ts";
 * import { lenet5 } from "../nn/lenet.ts";
 * const layers = lenet5().flat().map((p) => p.layer);
 * const shapes: (readonly number[])[] = [[1, 28, 28]];
 * for (const layer of layers) shapes.push(layer.outputShape(shapes.at(-1)!));
 * const groups = fusionGroups(layers, shapes);
 * assert.deepEqual(groups[0], { producer: 0, activation: 1, pool: 2, foldedBackward: true });
 * assert.deepEqual(groups[1], { producer: 3, activation: 4, pool: 5, foldedBackward: false });
 * assert.deepEqual(groups.map((g) => g.producer), [0, 3, 6, 7, 9, 11]);
 * ```
 */
export function fusionGroups(
  layers: readonly Layer[],
  inputs: readonly Shape[],
  options: { inputGradient?: boolean; fuse?: boolean; foldNorms?: boolean } = {},
): FusionGroup[] {
  // With the pass off every layer is a group of its own: each runs its own kernels.
  const off = options.fuse === false;
  // A folded BatchNorm is the convolution's: the patterns are found as if it were not there.
  const folded = off || !options.foldNorms ? layers.map(() => false) : foldedNorms(layers);
  const kept = layers.flatMap((_, i) => (folded[i] ? [] : [i]));
  const seen = kept.map((i) => layers[i]), seenInputs = kept.map((i) => inputs[i]);
  const activations = off ? seen.map(() => false) : fusedActivations(seen);
  const pools = off ? seen.map(() => false) : fusedPoolings(seen, activations, seenInputs);
  const groups: FusionGroup[] = [];
  for (let v = 0; v < seen.length; v++) {
    const group: FusionGroup = { producer: kept[v], foldedBackward: false };
    if (folded[kept[v] + 1]) group.norm = kept[v] + 1;
    if (activations[v + 1]) group.activation = kept[++v];
    if (pools[v + 1]) {
      group.pool = kept[++v];
      // A producer without dx (the first layer, unless the input's gradient is asked for)
      // takes the pooling's backward into its weight gradient when it can.
      group.foldedBackward = group.producer === 0 && !options.inputGradient &&
        fusesOf(layers[group.producer]).poolBackward === true;
    }
    groups.push(group);
  }
  return groups;
}

/**
 * Which BatchNorm layers fold into the convolution before them for inference: a `BatchNorm2d`
 * over a `Conv2d`'s output channels. (In training it normalises with the batch's statistics and
 * cannot fold.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { foldedNorms } from "./fusion.ts";
 * import { BatchNorm2d, Conv2d, ReLU } from "../../mod.ts";
 * assert.deepEqual(foldedNorms([new Conv2d(1, 6, 3), new BatchNorm2d(6), new ReLU()]), [false, true, false]);
 * ```
 */
export function foldedNorms(layers: readonly Layer[]): boolean[] {
  return layers.map((layer, i) =>
    layer instanceof BatchNorm2d && i > 0 && layers[i - 1] instanceof Conv2d &&
    (layers[i - 1] as Conv2d).outChannels === layer.numFeatures
  );
}
