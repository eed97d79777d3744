/**
 * Optimisers with PyTorch's semantics, updating a model's flat parameter buffer in one dispatch.
 * They own their state buffers; each step writes only a few scalars to a uniform buffer.
 *
 * @module
 */
import { adamUpdate, sgdUpdate } from "../../kernels/optim.ts";
import type { KernelSpec } from "../../kernels/spec.ts";
import { readFloats, storageBuffer, uniformBuffer, writeBytes } from "../gpu/buffers.ts";
import { sizeOf, type Tensor } from "../tensor.ts";
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
  /** The state to resume from (see {@linkcode OptimizerState}); after `attach`. */
  stateDict(): Promise<OptimizerState>;
  /** Restores a {@linkcode OptimizerState} saved from an optimiser of the same kind. */
  loadStateDict(state: OptimizerState): void;
  /** PyTorch-style description. */
  toString(): string;
}

/**
 * An optimiser's state, named as PyTorch's `optimizer.state_dict()` names it per parameter:
 * `<parameter>.exp_avg` and `<parameter>.exp_avg_sq` for Adam, `<parameter>.momentum_buffer`
 * for SGD (parameters by their `state_dict` names), and the steps taken.
 */
export interface OptimizerState {
  /** Steps taken (Adam's bias correction depends on it). */
  step: number;
  /** The state tensors, keyed `<parameter>.<state>`. */
  tensors: Record<string, Tensor>;
}

/** The state an optimiser keeps for the model it serves. */
interface Attached {
  model: Model;
  op: PlanOp;
  uniform: GPUBuffer;
  state: GPUBuffer[];
}

/**
 * Base of the optimisers here: state buffers the size of the model's flat parameter buffer, one
 * update dispatch over all parameters, and a few per-step scalars in a uniform buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Adam, FlatOptimizer } from "./optimizer.ts";
 * assert.ok(new Adam() instanceof FlatOptimizer);
 * ```
 */
export abstract class FlatOptimizer implements Optimizer {
  /** Learning rate; may be changed between steps. */
  abstract lr: number;
  #steps = 0;
  #attached?: Attached;

  /** The update op's name, e.g. `adam.update`. */
  protected abstract readonly opName: string;
  /** Names of the state buffers, as PyTorch names them (`exp_avg`, `exp_avg_sq`). */
  protected abstract readonly stateNames: readonly string[];
  /** Floating-point operations per parameter and step. */
  protected abstract readonly flopsPerParameter: number;
  /** The update kernel for `n` parameters. */
  protected abstract kernel(n: number): KernelSpec;
  /** The uniform scalars of step `t` (from 1). */
  protected abstract scalars(t: number): Float32Array;

  /** Steps taken. */
  get steps(): number {
    return this.#steps;
  }

  /** Zeroed state buffers for `model` on first use; another model is an error. */
  attach(model: Model): PlanOp {
    if (this.#attached) {
      if (this.#attached.model !== model) {
        throw new Error(
          `this ${this.constructor.name} already serves another model: create one optimiser per model (as in PyTorch)`,
        );
      }
      return this.#attached.op;
    }
    const device = model.gpu.device;
    const n = model.flatSize;
    const uniform = uniformBuffer(device, `${this.opName} scalars`);
    const state = this.stateNames.map((name) => storageBuffer(device, n * 4, name));
    const op: PlanOp = {
      name: this.opName,
      layer: "optimizer",
      variant: "flat vec4",
      why: "every parameter in one flat buffer: one dispatch updates them all",
      inputs: ["grads", "params", ...this.stateNames],
      outputs: ["params", ...this.stateNames],
      flops: this.flopsPerParameter * n,
      bytes: 4 * n * (3 + 2 * state.length),
      calls: [{
        kernel: this.kernel(n),
        buffers: [model.parameterBuffer, model.gradientBuffer, ...state, uniform],
      }],
    };
    this.#attached = { model, op, uniform, state };
    return op;
  }

  /** Writes this step's scalars; call before submitting each step. */
  beginStep(device: GPUDevice): void {
    const uniform = this.#attached?.uniform;
    if (!uniform) throw new Error(`${this.constructor.name}.beginStep before attach`);
    device.queue.writeBuffer(uniform, 0, this.scalars(++this.#steps) as Float32Array<ArrayBuffer>);
  }

  /**
   * The steps taken and the state buffers, per parameter (see {@linkcode OptimizerState}).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Adam, lenet5, Model, requestGpu } from "../../mod.ts";
   * using model = new Model(await requestGpu(), lenet5());
   * const adam = new Adam();
   * adam.attach(model);
   * const state = await adam.stateDict();
   * assert.deepEqual(state.tensors["0.weight.exp_avg"].shape, [6, 1, 5, 5]);
   * adam.dispose();
   * ```
   */
  async stateDict(): Promise<OptimizerState> {
    const attached = this.#need("stateDict");
    const device = attached.model.gpu.device;
    const tensors: Record<string, Tensor> = {};
    for (const [k, name] of this.stateNames.entries()) {
      const flat = await readFloats(device, attached.state[k]);
      for (const p of attached.model.parameters) {
        tensors[`${p.name}.${name}`] = {
          shape: p.shape,
          data: flat.slice(p.offset, p.offset + sizeOf(p.shape)),
        };
      }
    }
    return { step: this.#steps, tensors };
  }

  /** Restores steps and state buffers saved by {@linkcode FlatOptimizer.stateDict}. */
  loadStateDict(state: OptimizerState): void {
    const attached = this.#need("loadStateDict");
    if (!(Number.isInteger(state.step) && state.step >= 0)) {
      throw new RangeError(`optimizer state: step must be a count, got ${state.step}`);
    }
    const expected = this.stateNames.flatMap((n) =>
      attached.model.parameters.map((p) => `${p.name}.${n}`)
    );
    const given = Object.keys(state.tensors);
    const missing = expected.filter((k) => !(k in state.tensors));
    const unexpected = given.filter((k) => !expected.includes(k));
    if (missing.length || unexpected.length) {
      throw new RangeError(
        `optimizer state does not match ${this.constructor.name}: ${
          missing.length ? `missing ${missing[0]}` : `unexpected ${unexpected[0]}`
        }`,
      );
    }
    for (const [k, name] of this.stateNames.entries()) {
      for (const p of attached.model.parameters) {
        const t = state.tensors[`${p.name}.${name}`];
        if (t.data.length !== sizeOf(p.shape)) {
          throw new RangeError(
            `optimizer state ${p.name}.${name} has ${t.data.length} values, expected ${
              sizeOf(p.shape)
            }`,
          );
        }
        writeBytes(attached.model.gpu.device, attached.state[k], p.offset * 4, t.data);
      }
    }
    this.#steps = state.step;
  }

  #need(what: string): Attached {
    if (!this.#attached) throw new Error(`${this.constructor.name}.${what} before attach`);
    return this.#attached;
  }

  /** Frees the state buffers; attaching again starts from zero state. */
  dispose(): void {
    if (!this.#attached) return;
    this.#attached.uniform.destroy();
    for (const b of this.#attached.state) b.destroy();
    this.#attached = undefined;
  }
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
export class Adam extends FlatOptimizer {
  /** Learning rate. */
  lr: number;
  /** (β1, β2). */
  readonly betas: [number, number];
  /** ε. */
  readonly eps: number;
  /** Weight decay. */
  readonly weightDecay: number;
  /** The update op's name. */
  protected readonly opName: string = "adam.update";
  /** First and second moments. */
  protected readonly stateNames: readonly string[] = ["exp_avg", "exp_avg_sq"];
  /** Floating-point operations per parameter and step. */
  protected readonly flopsPerParameter: number = 12;

  /** Adam with PyTorch's defaults for what is not given; refuses what PyTorch refuses. */
  constructor(options: AdamOptions = {}) {
    super();
    this.lr = hyper("Adam", "lr", options.lr ?? DEFAULTS.adam.lr, 0);
    const [beta1, beta2] = options.betas ?? DEFAULTS.adam.betas;
    this.betas = [hyper("Adam", "betas[0]", beta1, 0, 1), hyper("Adam", "betas[1]", beta2, 0, 1)];
    this.eps = hyper("Adam", "eps", options.eps ?? DEFAULTS.adam.eps, 0);
    this.weightDecay = hyper(
      "Adam",
      "weightDecay",
      options.weightDecay ?? DEFAULTS.adam.weightDecay,
      0,
    );
  }

  /** The update of the flat buffer. */
  protected kernel(n: number): KernelSpec {
    return adamUpdate(n, {
      beta1: this.betas[0],
      beta2: this.betas[1],
      eps: this.eps,
      weightDecay: this.weightDecay,
    });
  }

  /** Step size lr / (1 - β1^t) and √(1 - β2^t), computed in double as PyTorch does. */
  protected scalars(t: number): Float32Array {
    const bc1 = 1 - this.betas[0] ** t, bc2 = 1 - this.betas[1] ** t;
    return new Float32Array([this.lr / bc1, Math.sqrt(bc2), 0, 0]);
  }

  /** PyTorch-style description. */
  override toString(): string {
    return `Adam(lr=${this.lr}, betas=(${
      this.betas.join(", ")
    }), eps=${this.eps}, weight_decay=${this.weightDecay})`;
  }
}

/**
 * Adam with decoupled weight decay (`torch.optim.AdamW`): each step first scales the parameters
 * by 1 − lr·weight_decay, then takes Adam's step on the gradient alone. PyTorch's default weight
 * decay, 0.01.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AdamW } from "./optimizer.ts";
 * const opt = new AdamW({ lr: 1e-3 });
 * assert.equal(opt.weightDecay, 0.01);
 * assert.match(String(opt), /^AdamW\(lr=0\.001/);
 * ```
 */
export class AdamW extends Adam {
  /** The update op's name. */
  protected override readonly opName: string = "adamw.update";

  /** AdamW with PyTorch's defaults for what is not given. */
  constructor(options: AdamOptions = {}) {
    super({ ...options, weightDecay: options.weightDecay ?? DEFAULTS.adamw.weightDecay });
  }

  /** The update of the flat buffer: Adam's, with the decay decoupled. */
  protected override kernel(n: number): KernelSpec {
    return adamUpdate(n, {
      beta1: this.betas[0],
      beta2: this.betas[1],
      eps: this.eps,
      weightDecay: this.weightDecay,
      decoupled: true,
    });
  }

  /** Adam's scalars, and the decay factor 1 − lr·weight_decay (in double, as PyTorch). */
  protected override scalars(t: number): Float32Array {
    const out = super.scalars(t);
    out[2] = 1 - this.lr * this.weightDecay;
    return out;
  }

  /** PyTorch-style description. */
  override toString(): string {
    return super.toString().replace(/^Adam\(/, "AdamW(");
  }
}

/**
 * A hyperparameter checked as `torch.optim` checks it: a finite number of at least `min` (and,
 * with `below`, less than it, as Adam's betas must be).
 */
function hyper(optimizer: string, name: string, value: number, min: number, below?: number) {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < min ||
    (below !== undefined && value >= below)
  ) {
    const range = below === undefined ? `at least ${min}` : `in [${min}, ${below})`;
    throw new RangeError(`${optimizer}: ${name} must be a finite number ${range}, got ${value}`);
  }
  return value;
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
export class SGD extends FlatOptimizer {
  /** Learning rate. */
  lr: number;
  /** Momentum. */
  readonly momentum: number;
  /** Weight decay. */
  readonly weightDecay: number;
  /** Nesterov. */
  readonly nesterov: boolean;
  /** The update op's name. */
  protected readonly opName: string = "sgd.update";
  /** The momentum buffer starts at zero, so the first step's buffer is the gradient (PyTorch). */
  protected readonly stateNames: readonly string[] = ["momentum_buffer"];
  /** Floating-point operations per parameter and step. */
  protected readonly flopsPerParameter: number = 6;

  /** SGD with PyTorch's defaults for what is not given (lr 0.1 here: PyTorch requires one). */
  constructor(options: SgdOptions = {}) {
    super();
    this.lr = hyper("SGD", "lr", options.lr ?? DEFAULTS.sgd.lr, 0);
    this.momentum = hyper("SGD", "momentum", options.momentum ?? DEFAULTS.sgd.momentum, 0);
    this.weightDecay = hyper(
      "SGD",
      "weightDecay",
      options.weightDecay ?? DEFAULTS.sgd.weightDecay,
      0,
    );
    this.nesterov = options.nesterov ?? DEFAULTS.sgd.nesterov;
    if (this.nesterov && this.momentum <= 0) {
      throw new RangeError("SGD: nesterov needs momentum > 0");
    }
  }

  /** The update of the flat buffer. */
  protected kernel(n: number): KernelSpec {
    return sgdUpdate(n, {
      momentum: this.momentum,
      weightDecay: this.weightDecay,
      nesterov: this.nesterov,
    });
  }

  /** The learning rate. */
  protected scalars(): Float32Array {
    return new Float32Array([this.lr, 0, 0, 0]);
  }

  /** PyTorch-style description. */
  override toString(): string {
    return `SGD(lr=${this.lr}, momentum=${this.momentum}, weight_decay=${this.weightDecay}, nesterov=${this.nesterov})`;
  }
}
