/**
 * Optimisers with PyTorch's semantics, updating a model's flat parameter buffer in one dispatch.
 * They own their state buffers; each step writes only a few scalars to a uniform buffer.
 *
 * @module
 */
import { adamUpdate, sgdUpdate } from "../kernels/optim.ts";
import { storageBuffer, uniformBuffer } from "./buffers.ts";
import type { KernelCall } from "./kernel_runner.ts";
import type { Model } from "./model.ts";

/** An optimiser bound to one model. */
export interface Optimizer {
  /** Learning rate; may be changed between steps. */
  lr: number;
  /** Steps taken. */
  readonly steps: number;
  /** Allocates state for `model` (once) and returns the update call. */
  attach(model: Model): KernelCall;
  /** Writes this step's scalars; call before submitting each step. */
  beginStep(device: GPUDevice): void;
  /** PyTorch-style description. */
  toString(): string;
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
 * import { Adam } from "./optimizer.ts";
 * const opt = new Adam({ lr: 1e-3 });
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
  #uniform?: GPUBuffer;
  #call?: KernelCall;

  /** Adam with PyTorch's defaults for what is not given. */
  constructor(options: AdamOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }

  /** Steps taken. */
  get steps(): number {
    return this.#steps;
  }

  /** First and second moment buffers, zero. */
  attach(model: Model): KernelCall {
    if (this.#call) return this.#call;
    const device = model.gpu.device;
    this.#uniform = uniformBuffer(device, "adam step");
    const n = model.flatSize;
    this.#call = {
      kernel: adamUpdate(n, {
        beta1: this.betas[0],
        beta2: this.betas[1],
        eps: this.eps,
        weightDecay: this.weightDecay,
      }),
      buffers: [
        model.parameterBuffer,
        model.gradientBuffer,
        storageBuffer(device, n * 4, "adam m"),
        storageBuffer(device, n * 4, "adam v"),
        this.#uniform,
      ],
    };
    return this.#call;
  }

  /** Step size lr / (1 - β1^t) and √(1 - β2^t), computed in double as PyTorch does. */
  beginStep(device: GPUDevice): void {
    if (!this.#uniform) throw new Error("Adam.beginStep before attach");
    const t = ++this.#steps;
    const bc1 = 1 - this.betas[0] ** t, bc2 = 1 - this.betas[1] ** t;
    device.queue.writeBuffer(
      this.#uniform,
      0,
      new Float32Array([this.lr / bc1, Math.sqrt(bc2), 0, 0]),
    );
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
 * import { SGD } from "./optimizer.ts";
 * const opt = new SGD({ lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
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
  #uniform?: GPUBuffer;
  #call?: KernelCall;

  /** SGD with PyTorch's defaults for what is not given (lr 0.1 here: PyTorch requires one). */
  constructor(options: SgdOptions = {}) {
    this.lr = options.lr ?? 0.1;
    this.momentum = options.momentum ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && this.momentum <= 0) {
      throw new RangeError("SGD: nesterov needs momentum > 0");
    }
  }

  /** Steps taken. */
  get steps(): number {
    return this.#steps;
  }

  /** The momentum buffer, zero (so the first step's buffer is the gradient, as in PyTorch). */
  attach(model: Model): KernelCall {
    if (this.#call) return this.#call;
    const device = model.gpu.device;
    this.#uniform = uniformBuffer(device, "sgd lr");
    this.#call = {
      kernel: sgdUpdate(model.flatSize, {
        momentum: this.momentum,
        weightDecay: this.weightDecay,
        nesterov: this.nesterov,
      }),
      buffers: [
        model.parameterBuffer,
        model.gradientBuffer,
        storageBuffer(device, model.flatSize * 4, "sgd momentum"),
        this.#uniform,
      ],
    };
    return this.#call;
  }

  /** Writes the learning rate. */
  beginStep(device: GPUDevice): void {
    if (!this.#uniform) throw new Error("SGD.beginStep before attach");
    this.#steps++;
    device.queue.writeBuffer(this.#uniform, 0, new Float32Array([this.lr, 0, 0, 0]));
  }

  /** PyTorch-style description. */
  toString(): string {
    return `SGD(lr=${this.lr}, momentum=${this.momentum}, weight_decay=${this.weightDecay}, nesterov=${this.nesterov})`;
  }
}
