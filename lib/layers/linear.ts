/**
 * `Linear`: y = x · Wᵀ + b, PyTorch's semantics, layout ([out, in]) and initialisation.
 *
 *   x [B, in] → y [B, out];  weight [out, in], bias [out]
 *   forward: matmul(transB) with fused bias; backward: dW = dyᵀ·x (matmul transA),
 *   db = Σ_b dy (sumRows), dx = dy·W (matmul).
 *
 * @module
 */
import {
  matmul,
  type MatmulShape,
  matmulUniformB,
  matmulUniformPlan,
} from "../../kernels/linear.ts";
import { chunkConstants, UNIFORM_BINDING_FLOATS } from "../../kernels/spec.ts";
import { sumRows } from "../../kernels/reduce.ts";
import type { BufferSlice, KernelCall } from "../kernel_runner.ts";
import type { Random } from "../random.ts";
import {
  type BackwardIO,
  chunkedCalls,
  defaultInit,
  defaultRandom,
  expectShape,
  type ForwardIO,
  type Layer,
  type Parameter,
  ParametricLayer,
  type Shape,
  type Workspace,
} from "./layer.ts";

/**
 * A fully connected layer.
 *
 * @example
 * ```ts
 * import { Linear } from "./linear.ts";
 * const fc = new Linear(400, 120);
 * console.log(fc.outputShape([400])); // [120]
 * ```
 */
export class Linear extends ParametricLayer implements Layer {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** weight [out, in] and bias [out]. */
  readonly parameters: readonly Parameter[];

  /** Fuses a following activation into its output, and the previous one into its dx. */
  readonly fuses = { activation: true, gate: true } as const;

  /** PyTorch's `Linear(in_features, out_features)` with default initialisation. */
  constructor(inFeatures: number, outFeatures: number, options: { rng?: Random } = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const rng = options.rng ?? defaultRandom();
    this.parameters = [
      {
        name: "weight",
        shape: [outFeatures, inFeatures],
        data: defaultInit(outFeatures * inFeatures, inFeatures, rng),
      },
      { name: "bias", shape: [outFeatures], data: defaultInit(outFeatures, inFeatures, rng) },
    ];
  }

  /** [out] for [in]. */
  outputShape(input: Shape): Shape {
    expectShape(
      this,
      input,
      input.length === 1 && input[0] === this.inFeatures,
      `[${this.inFeatures}]`,
    );
    return [this.outFeatures];
  }

  #shapes(batch: number) {
    const { inFeatures: I, outFeatures: O } = this;
    return {
      forward: { M: batch, N: O, K: I, transB: true, biasOffset: O * I },
      weight: { M: O, N: I, K: batch, transA: true },
      input: { M: batch, N: I, K: O },
    } satisfies Record<string, MatmulShape>;
  }

  /** The constants of the uniform views of B, per product that has a plan. */
  workspace(batch: number, _input: Shape, training: boolean): Workspace {
    const out: Workspace = {};
    const shapes = this.#shapes(batch);
    for (const name of training ? ["forward", "weight", "input"] as const : ["forward"] as const) {
      const plan = matmulUniformPlan(shapes[name], UNIFORM_BINDING_FLOATS);
      if (plan) out[name] = chunkConstants(plan);
    }
    return out;
  }

  /**
   * C = A'·B' as calls: through uniform views of B when they fit (one call per chunk), else one
   * storage matmul.
   */
  #product(
    shape: MatmulShape,
    a: BufferSlice,
    b: BufferSlice,
    c: BufferSlice,
    constants: BufferSlice | undefined,
    gate?: BufferSlice,
  ): KernelCall[] {
    const plan = matmulUniformPlan(shape, UNIFORM_BINDING_FLOATS);
    const gated = shape.gate && gate ? [gate] : [];
    if (!plan || !constants) return [{ kernel: matmul(shape), buffers: [a, b, ...gated, c] }];
    const bias = shape.biasOffset === undefined ? [] : [b];
    return chunkedCalls(
      matmulUniformB(shape, plan),
      plan,
      b,
      constants,
      (view, chunk) => [a, view, chunk, ...bias, ...gated, c],
    );
  }

  /** y = x·Wᵀ + b (then the fused activation, if any). */
  forward(io: ForwardIO): KernelCall[] {
    const shape = { ...this.#shapes(io.batch).forward, activation: io.activation };
    return this.#product(shape, io.x, this.segment.params, io.y, io.work.forward);
  }

  /** dW, db, and dx when asked (gated by the fused activation, if any). */
  backward(io: BackwardIO): KernelCall[] {
    const { inFeatures: I, outFeatures: O } = this;
    const shapes = this.#shapes(io.batch);
    const calls = [
      ...this.#product(shapes.weight, io.dy, io.x, this.segment.grads, io.work.weight),
      { kernel: sumRows(io.batch, O, O * I), buffers: [io.dy, this.segment.grads] },
    ];
    if (io.dx) {
      const shape = { ...shapes.input, gate: io.gate };
      calls.push(...this.#product(shape, io.dy, this.segment.params, io.dx, io.work.input, io.x));
    }
    return calls;
  }

  /** PyTorch's repr. */
  override toString(): string {
    return `Linear(in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=True)`;
  }
}
