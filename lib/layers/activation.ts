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

abstract class Activation implements Layer {
  readonly parameters: readonly Parameter[] = [];
  abstract readonly kind: ActivationKind;
  get activation(): ActivationKind {
    return this.kind;
  }
  outputShape(input: Shape): Shape {
    return input;
  }
  workspace(): Workspace {
    return {};
  }
  forward(io: ForwardIO): KernelCall[] {
    return [{
      kernel: activationForward(this.kind, io.batch * sizeOf(io.input)),
      buffers: [io.x, io.y],
    }];
  }
  backward(io: BackwardIO): KernelCall[] {
    if (!io.dx) return [];
    return [{
      kernel: activationBackward(this.kind, io.batch * sizeOf(io.input)),
      buffers: [io.y, io.dy, io.dx],
    }];
  }
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
