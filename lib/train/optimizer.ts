/**
 * Optimisers with PyTorch's semantics, updating a model's flat parameter buffer in one dispatch.
 * They own their state buffers; each step writes only a few scalars to a uniform buffer.
 *
 * @module
 */
import { adamUpdate, sgdUpdate } from "../../kernels/optim.ts";
import type { KernelSpec } from "../../kernels/spec.ts";
import { storageBuffer, uniformBuffer } from "../gpu/buffers.ts";
import { DEFAULTS } from "../defaults.ts";
import type { Model } from "./model.ts";
import type { PlanOp } from "./plan.ts";

/** An optimiser bound to one model. */
export interface Optimizer {
  /** Learning rate; may be changed between steps. */
  lr: number;
  /** Steps taken. */
  readonly steps: number;
  /**
   * Allocates state for `model` on first use and returns the update op. An optimiser serves one
   * model: attaching it to another throws.
   */
  attach(model: Model): PlanOp;
  /** Writes this step's scalars; call before submitting each step. */
  beginStep(device: GPUDevice): void;
  /** Frees the optimiser's device buffers; it cannot step afterwards. */
  dispose(): void;
  /** PyTorch-style description. */
  toString(): string;
}

/** The state an optimiser keeps for the model it serves. */
interface Attached {
  model: Model;
  op: PlanOp;
  uniform: GPUBuffer;
  state: GPUBuffer[];
}

/** Attaches once; a second model is an error, not a silently untrained model. */
function attachOnce(
  current: Attached | undefined,
  model: Model,
  name: string,
  build: () => Attached,
): Attached {
  if (current) {
    if (current.model !== model) {
      throw new Error(
        `${name} already serves another model: create one optimiser per model (as in PyTorch)`,
      );
    }
    return current;
  }
  return build();
}

/** The update op of a flat-buffer optimiser. */
function updateOp(
  name: string,
  kernel: KernelSpec,
  model: Model,
  state: GPUBuffer[],
  uniform: GPUBuffer,
  flopsPerParameter: number,
): PlanOp {
  return {
    name,
    layer: "optimizer",
    variant: "flat vec4",
    why: "every parameter in one flat buffer: one dispatch updates them all",
    inputs: ["grads", "params", ...state.map((b) => b.label)],
    outputs: ["params", ...state.map((b) => b.label)],
    flops: flopsPerParameter * model.flatSize,
    bytes: 4 * model.flatSize * (3 + 2 * state.length),
    calls: [{
      kernel,
      buffers: [model.parameterBuffer, model.gradientBuffer, ...state, uniform],
    }],
  };
}

/** Options of {@linkcode Adam}, PyTorch's names and defaults. */
export interface AdamOptions {
  /** Learning rate, default 1e-3. */
  lr?: number;
  /** (β1, β2), default (0.9, 0.999). */
  betas?: [number, number];
  /** ε, default 1e-8. */
  eps?: number;
  /** L2 penalty added to the gradient, default 0. */
  weightDecay?: number;
}

/**
 * Adam (`torch.optim.Adam`): bias-corrected moments, ε added outside the square root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Adam } from "./optimizer.ts";
 * const opt = new Adam({ lr: 1e-3 });
 * assert.equal(String(opt), "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)");
 * ```
 */
export class Adam implements Optimizer {
  /** Learning rate. */
  lr: number;
  /** (β1, β2). */
  readonly betas: [number, number];
  /** ε. */
  readonly eps: number;
  /** Weight decay. */
  readonly weightDecay: number;
  #steps = 0;
  #attached?: Attached;

  /** Adam with PyTorch's defaults for what is not given. */
  constructor(options: AdamOptions = {}) {
    this.lr = options.lr ?? DEFAULTS.adam.lr;
    this.betas = options.betas ?? [...DEFAULTS.adam.betas];
    this.eps = options.eps ?? DEFAULTS.adam.eps;
    this.weightDecay = options.weightDecay ?? DEFAULTS.adam.weightDecay;
  }

  /** Steps taken. */
  get steps(): number {
    return this.#steps;
  }

  /** First and second moment buffers, zero. */
  attach(model: Model): PlanOp {
    this.#attached = attachOnce(this.#attached, model, "this Adam", () => {
      const device = model.gpu.device;
      const uniform = uniformBuffer(device, "adam step");
      const n = model.flatSize;
      const state = [storageBuffer(device, n * 4, "m"), storageBuffer(device, n * 4, "v")];
      const kernel = adamUpdate(n, {
        beta1: this.betas[0],
        beta2: this.betas[1],
        eps: this.eps,
        weightDecay: this.weightDecay,
      });
      return {
        model,
        uniform,
        state,
        op: updateOp("adam.update", kernel, model, state, uniform, 12),
      };
    });
    return this.#attached.op;
  }

  /** Frees the moment buffers. */
  dispose(): void {
    disposeAttached(this.#attached);
    this.#attached = undefined;
  }

  /** Step size lr / (1 - β1^t) and √(1 - β2^t), computed in double as PyTorch does. */
  beginStep(device: GPUDevice): void {
    const uniform = this.#attached?.uniform;
    if (!uniform) throw new Error("Adam.beginStep before attach");
    const t = ++this.#steps;
    const bc1 = 1 - this.betas[0] ** t, bc2 = 1 - this.betas[1] ** t;
    device.queue.writeBuffer(uniform, 0, new Float32Array([this.lr / bc1, Math.sqrt(bc2), 0, 0]));
  }

  /** PyTorch-style description. */
  toString(): string {
    return `Adam(lr=${this.lr}, betas=(${
      this.betas.join(", ")
    }), eps=${this.eps}, weight_decay=${this.weightDecay})`;
  }
}

/** Options of {@linkcode SGD}, PyTorch's names and defaults. */
export interface SgdOptions {
  /** Learning rate, default 0.1. */
  lr?: number;
  /** Momentum, default 0. */
  momentum?: number;
  /** L2 penalty added to the gradient, default 0. */
  weightDecay?: number;
  /** Nesterov momentum, default false. */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent with momentum and weight decay (`torch.optim.SGD`, dampening 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SGD } from "./optimizer.ts";
 * const opt = new SGD({ lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
 * assert.equal(opt.momentum, 0.9);
 * ```
 */
export class SGD implements Optimizer {
  /** Learning rate. */
  lr: number;
  /** Momentum. */
  readonly momentum: number;
  /** Weight decay. */
  readonly weightDecay: number;
  /** Nesterov. */
  readonly nesterov: boolean;
  #steps = 0;
  #attached?: Attached;

  /** SGD with PyTorch's defaults for what is not given (lr 0.1 here: PyTorch requires one). */
  constructor(options: SgdOptions = {}) {
    this.lr = options.lr ?? DEFAULTS.sgd.lr;
    this.momentum = options.momentum ?? DEFAULTS.sgd.momentum;
    this.weightDecay = options.weightDecay ?? DEFAULTS.sgd.weightDecay;
    this.nesterov = options.nesterov ?? DEFAULTS.sgd.nesterov;
    if (this.nesterov && this.momentum <= 0) {
      throw new RangeError("SGD: nesterov needs momentum > 0");
    }
  }

  /** Steps taken. */
  get steps(): number {
    return this.#steps;
  }

  /** The momentum buffer, zero (so the first step's buffer is the gradient, as in PyTorch). */
  attach(model: Model): PlanOp {
    this.#attached = attachOnce(this.#attached, model, "this SGD", () => {
      const device = model.gpu.device;
      const uniform = uniformBuffer(device, "sgd lr");
      const state = [storageBuffer(device, model.flatSize * 4, "momentum")];
      const kernel = sgdUpdate(model.flatSize, {
        momentum: this.momentum,
        weightDecay: this.weightDecay,
        nesterov: this.nesterov,
      });
      return {
        model,
        uniform,
        state,
        op: updateOp("sgd.update", kernel, model, state, uniform, 6),
      };
    });
    return this.#attached.op;
  }

  /** Frees the momentum buffer. */
  dispose(): void {
    disposeAttached(this.#attached);
    this.#attached = undefined;
  }

  /** Writes the learning rate. */
  beginStep(device: GPUDevice): void {
    const uniform = this.#attached?.uniform;
    if (!uniform) throw new Error("SGD.beginStep before attach");
    this.#steps++;
    device.queue.writeBuffer(uniform, 0, new Float32Array([this.lr, 0, 0, 0]));
  }

  /** PyTorch-style description. */
  toString(): string {
    return `SGD(lr=${this.lr}, momentum=${this.momentum}, weight_decay=${this.weightDecay}, nesterov=${this.nesterov})`;
  }
}

function disposeAttached(attached: Attached | undefined): void {
  if (!attached) return;
  attached.uniform.destroy();
  for (const b of attached.state) b.destroy();
}
