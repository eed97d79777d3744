/**
 * The activation layers — `Sigmoid`, `ReLU`, `Tanh`, `GELU`, `SiLU`, `LeakyReLU` — element-wise
 * over any shape. Everything kind-specific (WGSL, derivative, PyTorch's names, ONNX) is one entry
 * of `ACTIVATIONS` (kernels/activation.ts); a class here only names its entry.
 *
 *   x [B, ...] → y [B, ...]
 *   forward   y = f(x)                                   activationForward
 *   backward  dx = dy · f'(·), with y or x as the entry says   activationBackward
 *
 * @module
 */
import {
  ACTIVATION_KINDS,
  type ActivationArgs,
  activationBackward,
  activationForward,
  type ActivationKind,
  ACTIVATIONS,
  DEFAULT_NEGATIVE_SLOPE,
} from "../../kernels/activation.ts";
import { sizeOf } from "../tensor.ts";
import {
  type BackwardIO,
  type ForwardIO,
  type Layer,
  type LayerDescription,
  type Op,
  type Parameter,
  type Shape,
  storedDy,
  type Workspace,
} from "./layer.ts";

/**
 * Base of the element-wise activation layers: any shape, no parameters. Inside a `Sequential`,
 * a fusible kind is usually fused into its neighbours.
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
  /** Its arguments (LeakyReLU's slope). */
  readonly args: ActivationArgs = {};
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
      calls: [{ kernel: activationForward(this.kind, n, this.args), buffers: [io.x, io.y] }],
    }];
  }
  /** dx = dy · f'(x), written with y or x, when not fused into the layer after. */
  backward(io: BackwardIO): Op[] {
    const dy = storedDy(this, io);
    if (!io.dx) return [];
    const n = io.batch * sizeOf(io.input);
    const fromOutput = ACTIVATIONS[this.kind].derivativeFrom === "output";
    return [{
      name: `${this.kind}.backward`,
      variant: "element-wise",
      why: "no neighbour to fuse into",
      reads: [fromOutput ? "y" : "x", "dy"],
      writes: ["dx"],
      flops: 3 * n,
      bytes: 12 * n,
      calls: [{
        kernel: activationBackward(this.kind, n, this.args),
        buffers: [fromOutput ? io.y : io.x, dy, io.dx],
      }],
    }];
  }
  /** The layer as data, in PyTorch's terms (LeakyReLU with its slope). */
  describe(): LayerDescription {
    const { torch } = ACTIVATIONS[this.kind];
    return this.kind === "leaky_relu"
      ? { type: torch, negative_slope: this.args.negativeSlope ?? DEFAULT_NEGATIVE_SLOPE }
      : { type: torch };
  }
  /** PyTorch's repr. */
  toString(): string {
    return ACTIVATIONS[this.kind].repr(this.args);
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

/**
 * The hyperbolic tangent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Tanh } from "./activation.ts";
 * assert.equal(String(new Tanh()), "Tanh()");
 * ```
 */
export class Tanh extends Activation {
  /** Activation kind. */
  readonly kind: ActivationKind = "tanh";
}

/**
 * PyTorch's default GELU, x·Φ(x) with the exact (erf) Φ; its derivative is taken from x.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GELU } from "./activation.ts";
 * assert.equal(String(new GELU()), "GELU(approximate='none')");
 * ```
 */
export class GELU extends Activation {
  /** Activation kind. */
  readonly kind: ActivationKind = "gelu";
}

/**
 * SiLU (swish), x·sigmoid(x); its derivative is taken from x.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SiLU } from "./activation.ts";
 * assert.equal(String(new SiLU()), "SiLU()");
 * ```
 */
export class SiLU extends Activation {
  /** Activation kind. */
  readonly kind: ActivationKind = "silu";
}

/**
 * LeakyReLU: x where x > 0, else `negativeSlope`·x (PyTorch's default slope 0.01).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LeakyReLU } from "./activation.ts";
 * assert.equal(String(new LeakyReLU(0.1)), "LeakyReLU(negative_slope=0.1)");
 * assert.throws(() => new LeakyReLU(NaN), /negative_slope must be a finite number/);
 * ```
 */
export class LeakyReLU extends Activation {
  /** Activation kind. */
  readonly kind: ActivationKind = "leaky_relu";
  /** Its slope for x ≤ 0. */
  override readonly args: ActivationArgs;
  /** PyTorch's `LeakyReLU(negative_slope)`. */
  constructor(negativeSlope: number = DEFAULT_NEGATIVE_SLOPE) {
    super();
    if (typeof negativeSlope !== "number" || !Number.isFinite(negativeSlope)) {
      throw new RangeError(
        `LeakyReLU: negative_slope must be a finite number, got ${negativeSlope}`,
      );
    }
    this.args = { negativeSlope };
  }
  /** The slope for x ≤ 0. */
  get negativeSlope(): number {
    return this.args.negativeSlope!;
  }
}

const CLASSES = {
  sigmoid: Sigmoid,
  relu: ReLU,
  tanh: Tanh,
  gelu: GELU,
  silu: SiLU,
  leaky_relu: LeakyReLU,
} as const satisfies Record<ActivationKind, new () => Activation>;

/**
 * A new activation layer of `kind` (LeakyReLU with its default slope unless given).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationLayer } from "./activation.ts";
 * assert.equal(String(activationLayer("relu")), "ReLU()");
 * assert.equal(String(activationLayer("leaky_relu", { negativeSlope: 0.2 })), "LeakyReLU(negative_slope=0.2)");
 * ```
 */
export function activationLayer(kind: ActivationKind, args: ActivationArgs = {}): Activation {
  if (!ACTIVATION_KINDS.includes(kind)) {
    throw new RangeError(`activation must be one of ${ACTIVATION_KINDS.join(", ")}, got "${kind}"`);
  }
  return kind === "leaky_relu" ? new LeakyReLU(args.negativeSlope) : new CLASSES[kind]();
}
