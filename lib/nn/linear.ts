/**
 * `Linear`: y = x · Wᵀ + b, PyTorch's semantics, layout ([out, in]) and initialisation.
 *
 *   x [B, in] → y [B, out];  weight [out, in], bias [out]
 *   forward          y  = x·Wᵀ + b     matmul, B = W stored transposed, bias and activation fused
 *   backward_weight  dW = dyᵀ·x        matmul, A = dy stored transposed
 *   backward_bias    db = Σ_b dy       sumRows
 *   backward_input   dx = dy·W         matmul (+ a fused gate)
 *
 * Each product's variant (uniform views of B, of A and B, or storage) comes from the candidate
 * table of `matmul_candidates.ts`.
 *
 * @module
 */
import { matmul, type MatmulShape, matmulUniformB } from "../../kernels/linear.ts";
import { sumRows } from "../../kernels/reduce.ts";
import type { BufferSlice, KernelCall } from "../gpu/kernel_runner.ts";
import type { Random } from "../random.ts";
import { candidateCalls, viewConstants } from "./_chunked.ts";
import type { Choice, Tuning } from "./choose.ts";
import { chooseMatmul, type MatmulKernel } from "./matmul_candidates.ts";
import {
  defaultInit,
  defaultRandom,
  expectShape,
  type ForwardIO,
  type LayerDescription,
  type Op,
  type Parameter,
  ParametricLayer,
  type Shape,
  storedDy,
  type Workspace,
} from "./layer.ts";
import type { FusedBackwardIO, FusedForwardIO, FusingLayer } from "./fused.ts";

type Product = "forward" | "weight" | "input";

/**
 * A fully connected layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Linear } from "./linear.ts";
 * const fc = new Linear(400, 120);
 * assert.deepEqual(fc.outputShape([400]), [120]);
 * assert.deepEqual(fc.parameters.map((p) => p.shape), [[120, 400], [120]]);
 * ```
 */
export class Linear extends ParametricLayer implements FusingLayer {
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

  #shapes(batch: number): Record<Product, MatmulShape> {
    const { inFeatures: I, outFeatures: O } = this;
    return {
      forward: { M: batch, N: O, K: I, transB: true, biasOffset: O * I },
      weight: { M: O, N: I, K: batch, transA: true },
      input: { M: batch, N: I, K: O },
    };
  }

  /** The constants of the uniform views of A and B, per product whose candidate views them. */
  workspace(batch: number, _input: Shape, training: boolean, tuning: Tuning): Workspace {
    const shapes = this.#shapes(batch);
    const products = training ? ["forward", "weight", "input"] as const : ["forward"] as const;
    return Object.assign(
      {},
      ...products.map((name) => viewConstants(name, chooseMatmul(shapes[name], tuning))),
    );
  }

  /**
   * C = A'·B' as calls of the chosen candidate: one per view of B (per pair of views when A is
   * viewed by rows too), or one storage matmul.
   */
  #product(
    choice: Choice<MatmulKernel>,
    product: Product,
    shape: MatmulShape,
    [a, b, c]: [BufferSlice, BufferSlice, BufferSlice],
    work: Readonly<Record<string, BufferSlice>>,
    gate?: BufferSlice,
  ): KernelCall[] {
    const { plan, aPlan, tileN, tileM } = choice.kernel;
    const gated = shape.gate && gate ? [gate] : [];
    const tiled = { ...shape, tileM, tileN };
    const kernel = plan ? matmulUniformB(tiled, plan, aPlan) : matmul(tiled);
    // A view of B holds no bias: the uniform-B kernel binds B again for it.
    const bias = plan && shape.biasOffset !== undefined ? [b] : [];
    const crossed = !shape.transA;
    return candidateCalls(kernel, choice, product, { a, b }, work, [...bias, ...gated, c], crossed);
  }

  /** The op of one product. */
  #op(
    name: string,
    product: Product,
    shape: MatmulShape,
    io: ForwardIO,
    reads: string[],
    writes: string[],
    a: BufferSlice,
    b: BufferSlice,
    c: BufferSlice,
    gate?: BufferSlice,
  ): Op {
    const choice = chooseMatmul(shape, io.tuning);
    const { M, N, K } = shape;
    return {
      name,
      variant: choice.variant + (shape.activation ? ` + ${shape.activation}` : "") +
        (shape.gate ? ` gate ${shape.gate}` : ""),
      tuning: choice,
      why: choice.why,
      reads,
      writes,
      flops: 2 * M * N * K,
      bytes: 4 * (M * K + K * N + M * N * (shape.gate ? 2 : 1)),
      calls: this.#product(choice, product, shape, [a, b, c], io.work, gate),
    };
  }

  /** y = x·Wᵀ + b (then the fused activation, if any). */
  forward(io: FusedForwardIO): Op[] {
    const shape = { ...this.#shapes(io.batch).forward, activation: io.activation };
    return [
      this.#op(
        "linear.forward",
        "forward",
        shape,
        io,
        ["x", "params"],
        ["y"],
        io.x,
        this.segment.params,
        io.y,
      ),
    ];
  }

  /** dW, db, and dx when asked (gated by the fused activation, if any). */
  backward(io: FusedBackwardIO): Op[] {
    const dy = storedDy(this, io);
    const { inFeatures: I, outFeatures: O } = this;
    const shapes = this.#shapes(io.batch);
    const grads = this.segment.grads;
    const ops = [
      this.#op(
        "linear.backward_weight",
        "weight",
        shapes.weight,
        io,
        ["dy", "x"],
        ["grads"],
        dy,
        io.x,
        grads,
      ),
      {
        name: "linear.backward_bias",
        variant: "column sums",
        why: "db is the column sums of dy",
        reads: ["dy"],
        writes: ["grads"],
        flops: io.batch * O,
        bytes: 4 * (io.batch + 1) * O,
        calls: [{ kernel: sumRows(io.batch, O, O * I), buffers: [dy, grads] }],
      },
    ];
    if (io.dx) {
      const shape = { ...shapes.input, gate: io.gate };
      const reads = ["dy", "params", ...(io.gate ? ["x"] : [])];
      ops.push(
        this.#op(
          "linear.backward_input",
          "input",
          shape,
          io,
          reads,
          ["dx"],
          dy,
          this.segment.params,
          io.dx,
          io.x,
        ),
      );
    }
    return ops;
  }

  /** Multiply-adds of the forward pass for one sample: in × out. */
  multAdds(): number {
    return this.inFeatures * this.outFeatures;
  }

  /** The layer as data, in PyTorch's terms. */
  describe(): LayerDescription {
    return { type: "Linear", in_features: this.inFeatures, out_features: this.outFeatures };
  }

  /** PyTorch's repr. */
  override toString(): string {
    return `Linear(in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=True)`;
  }
}
