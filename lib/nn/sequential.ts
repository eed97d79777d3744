/**
 * `Sequential`: layers applied in order, like PyTorch's `nn.Sequential`. It only holds the layers,
 * their shapes and their `state_dict` names; the step plan (`lib/train/plan.ts`) wires them
 * together, decides fusion and allocates the activations.
 *
 * @module
 */
import type { Layer, Parameter } from "./layer.ts";
import type { Shape } from "../tensor.ts";

/** A parameter with its PyTorch `state_dict` name, e.g. `0.weight`. */
export interface NamedParameter extends Parameter {
  /** `<index>.<name>` as in PyTorch's `nn.Sequential`. */
  qualifiedName: string;
  /** The layer that owns it. */
  layer: Layer;
}

/** A layer inside a (possibly nested) Sequential, with its PyTorch path (`0`, `3`, `1.0`). */
export interface PlacedLayer {
  /** The `state_dict` prefix, e.g. `3` or `1.0`. */
  path: string;
  /** The layer. */
  layer: Layer;
}

/** Options of {@linkcode Sequential}. */
export interface SequentialOptions {
  /** Per-sample input shape, e.g. `[1, 28, 28]`; a model uses it unless told otherwise. */
  inputShape?: Shape;
}

/**
 * Layers in order, like PyTorch's `nn.Sequential`; another Sequential may be one of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Sequential } from "./sequential.ts";
 * import { Linear } from "./linear.ts";
 * import { ReLU } from "./activation.ts";
 * const mlp = new Sequential([new Linear(784, 64), new ReLU(), new Linear(64, 10)]);
 * assert.deepEqual(mlp.outputShape([784]), [10]);
 * assert.deepEqual(mlp.namedParameters().map((p) => p.qualifiedName), [
 *   "0.weight", "0.bias", "2.weight", "2.bias",
 * ]);
 * ```
 */
export class Sequential {
  /** The layers. */
  readonly layers: readonly (Layer | Sequential)[];
  /** The input shape it was built for, when given. */
  readonly inputShape?: Shape;

  /** Wraps `layers`, applied first to last. */
  constructor(layers: readonly (Layer | Sequential)[], options: SequentialOptions = {}) {
    if (layers.length === 0) throw new RangeError("Sequential needs at least one layer");
    this.layers = layers;
    this.inputShape = options.inputShape;
  }

  /** The leaf layers in order, nested Sequentials opened, with their `state_dict` paths. */
  flat(): PlacedLayer[] {
    return this.layers.flatMap((layer, i) =>
      layer instanceof Sequential
        ? layer.flat().map((p) => ({ path: `${i}.${p.path}`, layer: p.layer }))
        : [{ path: String(i), layer }]
    );
  }

  /** Parameters with their `state_dict` names. */
  namedParameters(): NamedParameter[] {
    return this.flat().flatMap(({ path, layer }) =>
      layer.parameters.map((p) => ({ ...p, qualifiedName: `${path}.${p.name}`, layer }))
    );
  }

  /** Buffers (running statistics) with their `state_dict` names, e.g. `1.running_mean`. */
  namedBuffers(): NamedParameter[] {
    return this.flat().flatMap(({ path, layer }) =>
      (layer.buffers ?? []).map((p) => ({ ...p, qualifiedName: `${path}.${p.name}`, layer }))
    );
  }

  /** The input shape of every leaf layer, and the final output shape last. */
  shapes(input: Shape): Shape[] {
    const shapes = [input];
    for (const { layer } of this.flat()) shapes.push(layer.outputShape(shapes[shapes.length - 1]));
    return shapes;
  }

  /** The last layer's output shape. */
  outputShape(input: Shape): Shape {
    return this.shapes(input).at(-1)!;
  }

  /** PyTorch's repr. */
  toString(): string {
    const lines = this.layers.map((l, i) => `  (${i}): ${String(l).replaceAll("\n", "\n  ")}`);
    return `Sequential(\n${lines.join("\n")}\n)`;
  }
}
