/**
 * `Sigmoid` and `ReLU` layers: element-wise, any shape; backward reads the forward's output.
 *
 * @module
 */
import {
  activationBackward,
  activationForward,
  type ActivationKind,
} from "../../kernels/activation.ts";
import { sizeOf } from "../tensor.ts";
import {
  type BackwardIO,
  type ForwardIO,
  type Layer,
  type Op,
  type Parameter,
  type Shape,
  storedDy,
  type Workspace,
} from "./layer.ts";

/**
 * Base of the element-wise activation layers: any shape, no parameters; backward reads the
 * forward's output. Inside a `Sequential` it is usually fused into its neighbours.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Sigmoid } from "./activation.ts";
 * assert.deepEqual(new Sigmoid().outputShape([6, 28, 28]), [6, 28, 28]);
 * ```
 */
export abstract class Activation implements Layer {
  /** No parameters. */
  readonly parameters: readonly Parameter[] = [];
  /** Which activation. */
  abstract readonly kind: ActivationKind;
  /** Which activation (the Layer property that marks activation layers). */
  get activation(): ActivationKind {
    return this.kind;
  }
  /** The input shape. */
  outputShape(input: Shape): Shape {
    return input;
  }
  /** No scratch buffers. */
  workspace(): Workspace {
    return {};
  }
  /** y = f(x), when not fused into the layer before. */
  forward(io: ForwardIO): Op[] {
    const n = io.batch * sizeOf(io.input);
    return [{
      name: `${this.kind}.forward`,
      variant: "element-wise",
      why: "no neighbour to fuse into",
      reads: ["x"],
      writes: ["y"],
      flops: 4 * n,
      bytes: 8 * n,
      calls: [{ kernel: activationForward(this.kind, n), buffers: [io.x, io.y] }],
    }];
  }
  /** dx = dy · f'(x), written with y, when not fused into the layer after. */
  backward(io: BackwardIO): Op[] {
    const dy = storedDy(this, io);
    if (!io.dx) return [];
    const n = io.batch * sizeOf(io.input);
    return [{
      name: `${this.kind}.backward`,
      variant: "element-wise",
      why: "no neighbour to fuse into",
      reads: ["y", "dy"],
      writes: ["dx"],
      flops: 3 * n,
      bytes: 12 * n,
      calls: [{ kernel: activationBackward(this.kind, n), buffers: [io.y, dy, io.dx] }],
    }];
  }
  /** PyTorch's repr. */
  toString(): string {
    return this.kind === "sigmoid" ? "Sigmoid()" : "ReLU()";
  }
}

/**
 * The logistic sigmoid, 1 / (1 + e^-x).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Sigmoid } from "./activation.ts";
 * assert.equal(String(new Sigmoid()), "Sigmoid()");
 * ```
 */
export class Sigmoid extends Activation {
  /** Activation kind. */
  readonly kind: ActivationKind = "sigmoid";
}

/**
 * The rectifier, max(x, 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReLU } from "./activation.ts";
 * assert.equal(new ReLU().activation, "relu");
 * ```
 */
export class ReLU extends Activation {
  /** Activation kind. */
  readonly kind: ActivationKind = "relu";
}
