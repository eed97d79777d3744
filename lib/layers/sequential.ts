/**
 * `Sequential`: layers applied in order. Its workspace holds the intermediate activations (and,
 * for training, their gradients) plus every child's scratch buffers, named `<index>/<name>`.
 *
 * @module
 */
import type { BufferSlice, KernelCall } from "../kernel_runner.ts";
import type { BackwardIO, ForwardIO, Layer, Parameter, Shape, Workspace } from "./layer.ts";
import { sizeOf } from "./layer.ts";

/** A parameter with its PyTorch `state_dict` name, e.g. `0.weight`. */
export interface NamedParameter extends Parameter {
  /** `<index>.<name>` as in PyTorch's `nn.Sequential`. */
  qualifiedName: string;
  /** The layer that owns it. */
  layer: Layer;
}

/**
 * Layers in order, like PyTorch's `nn.Sequential`.
 *
 * @example
 * ```ts
 * import { Sequential } from "./sequential.ts";
 * import { Linear } from "./linear.ts";
 * import { ReLU } from "./activation.ts";
 * const mlp = new Sequential([new Linear(784, 64), new ReLU(), new Linear(64, 10)]);
 * console.log(mlp.outputShape([784])); // [10]
 * ```
 */
export class Sequential implements Layer {
  /** The layers. */
  readonly layers: readonly Layer[];

  /** Wraps `layers`, applied first to last. */
  constructor(layers: readonly Layer[]) {
    if (layers.length === 0) throw new RangeError("Sequential needs at least one layer");
    this.layers = layers;
  }

  /** Every child's parameters, in order (a Sequential has none of its own). */
  get parameters(): readonly Parameter[] {
    return this.namedParameters().map(({ name, shape, data }) => ({ name, shape, data }));
  }

  /** Parameters with their `state_dict` names. */
  namedParameters(): NamedParameter[] {
    return this.layers.flatMap((layer, i) =>
      layer instanceof Sequential
        ? layer.namedParameters().map((p) => ({ ...p, qualifiedName: `${i}.${p.qualifiedName}` }))
        : layer.parameters.map((p) => ({ ...p, qualifiedName: `${i}.${p.name}`, layer }))
    );
  }

  /** Every layer's input shape, and the final output shape last. */
  shapes(input: Shape): Shape[] {
    const shapes = [input];
    for (const layer of this.layers) shapes.push(layer.outputShape(shapes[shapes.length - 1]));
    return shapes;
  }

  /** The last layer's output shape. */
  outputShape(input: Shape): Shape {
    return this.shapes(input).at(-1)!;
  }

  /**
   * Activation layers fused into their neighbours: the layer before applies it to its output,
   * the layer after multiplies its dx by the derivative. Such an activation records no kernel
   * and shares its neighbours' buffers, like a reshape.
   */
  fused(): boolean[] {
    const n = this.layers.length;
    return this.layers.map((layer, i) =>
      layer.activation !== undefined && i > 0 && i + 1 < n &&
      this.layers[i - 1].fuses?.activation === true && this.layers[i + 1].fuses?.gate === true
    );
  }

  #aliases(): boolean[] {
    const fused = this.fused();
    return this.layers.map((layer, i) => fused[i] || layer.reshapeOnly === true);
  }

  /** Intermediate activations (`act<i>`), their gradients (`grad<i>`), and children's scratch. */
  workspace(batch: number, input: Shape, training: boolean): Workspace {
    const shapes = this.shapes(input);
    const aliases = this.#aliases();
    const out: Workspace = {};
    this.layers.forEach((layer, i) => {
      for (const [name, request] of Object.entries(layer.workspace(batch, shapes[i], training))) {
        out[`${i}/${name}`] = request;
      }
      if (i < this.layers.length - 1 && !aliases[i]) {
        out[`act${i}`] = batch * sizeOf(shapes[i + 1]) * 4;
        if (training) out[`grad${i}`] = batch * sizeOf(shapes[i + 1]) * 4;
      }
    });
    return out;
  }

  #wiring(io: ForwardIO) {
    const shapes = this.shapes(io.input);
    const aliases = this.#aliases();
    const n = this.layers.length;
    const acts: BufferSlice[] = [], grads: (BufferSlice | undefined)[] = [];
    for (let i = 0; i < n; i++) {
      acts.push(i === n - 1 ? io.y : aliases[i] ? (i ? acts[i - 1] : io.x) : io.work[`act${i}`]);
      grads.push(aliases[i] ? (i ? grads[i - 1] : undefined) : io.work[`grad${i}`]);
    }
    const work = (i: number) => {
      const prefix = `${i}/`;
      return Object.fromEntries(
        Object.entries(io.work).filter(([k]) => k.startsWith(prefix)).map((
          [k, v],
        ) => [k.slice(prefix.length), v]),
      );
    };
    return { shapes, acts, grads, work, fused: this.fused() };
  }

  /** Each layer's forward, in order (fused activations inside their producers). */
  forward(io: ForwardIO): KernelCall[] {
    const { shapes, acts, work, fused } = this.#wiring(io);
    return this.layers.flatMap((layer, i) =>
      fused[i] ? [] : layer.forward({
        batch: io.batch,
        input: shapes[i],
        x: i ? acts[i - 1] : io.x,
        y: acts[i],
        work: work(i),
        activation: fused[i + 1] ? this.layers[i + 1].activation : undefined,
      })
    );
  }

  /** Each layer's backward, last to first; the first layer gets `io.dx` (null: skipped). */
  backward(io: BackwardIO): KernelCall[] {
    const { shapes, acts, grads, work, fused } = this.#wiring(io);
    const n = this.layers.length;
    const calls: KernelCall[] = [];
    for (let i = n - 1; i >= 0; i--) {
      if (fused[i]) continue;
      calls.push(...this.layers[i].backward({
        batch: io.batch,
        input: shapes[i],
        x: i ? acts[i - 1] : io.x,
        y: acts[i],
        work: work(i),
        dy: i === n - 1 ? io.dy : grads[i]!,
        dx: i === 0 ? io.dx : grads[i - 1] ?? io.dx,
        gate: i > 0 && fused[i - 1] ? this.layers[i - 1].activation : undefined,
      }));
    }
    return calls;
  }

  /** PyTorch's repr. */
  toString(): string {
    const lines = this.layers.map((l, i) => `  (${i}): ${String(l).replaceAll("\n", "\n  ")}`);
    return `Sequential(\n${lines.join("\n")}\n)`;
  }
}
