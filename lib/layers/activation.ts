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
import type { KernelCall } from "../kernel_runner.ts";
import {
  type BackwardIO,
  type ForwardIO,
  type Layer,
  type Parameter,
  type Shape,
  sizeOf,
  type Workspace,
} from "./layer.ts";

/**
 * Base of the element-wise activation layers: any shape, no parameters; backward reads the
 * forward's output. Inside a `Sequential` it is usually fused into its neighbours.
 *
 * @example
 * ```ts
 * import { Sigmoid } from "./activation.ts";
 * console.log(new Sigmoid().outputShape([6, 28, 28])); // [6, 28, 28]
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
  /** y = f(x). */
  forward(io: ForwardIO): KernelCall[] {
    return [{
      kernel: activationForward(this.kind, io.batch * sizeOf(io.input)),
      buffers: [io.x, io.y],
    }];
  }
  /** dx = dy · f'(x), written with y. */
  backward(io: BackwardIO): KernelCall[] {
    if (!io.dx) return [];
    return [{
      kernel: activationBackward(this.kind, io.batch * sizeOf(io.input)),
      buffers: [io.y, io.dy, io.dx],
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
 * import { Sigmoid } from "./activation.ts";
 * const act = new Sigmoid();
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
 * import { ReLU } from "./activation.ts";
 * const act = new ReLU();
 * ```
 */
export class ReLU extends Activation {
  /** Activation kind. */
  readonly kind: ActivationKind = "relu";
}
