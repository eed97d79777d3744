/**
 * `Linear`: y = x · Wᵀ + b, PyTorch's semantics, layout ([out, in]) and initialisation.
 *
 *   x [B, in] → y [B, out];  weight [out, in], bias [out]
 *   forward: matmul(transB) with fused bias; backward: dW = dyᵀ·x (matmul transA),
 *   db = Σ_b dy (sumRows), dx = dy·W (matmul).
 *
 * @module
 */
import { matmul } from "../../kernels/linear.ts";
import { sumRows } from "../../kernels/reduce.ts";
import type { KernelCall } from "../kernel_runner.ts";
import type { Random } from "../random.ts";
import {
  type BackwardIO,
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

  /** No scratch buffers. */
  workspace(): Workspace {
    return {};
  }

  /** y = x·Wᵀ + b. */
  forward(io: ForwardIO): KernelCall[] {
    const { inFeatures: K, outFeatures: N } = this;
    return [{
      kernel: matmul({ M: io.batch, N, K, transB: true, biasOffset: N * K }),
      buffers: [io.x, this.segment.params, io.y],
    }];
  }

  /** dW, db, and dx when asked. */
  backward(io: BackwardIO): KernelCall[] {
    const { inFeatures: I, outFeatures: O } = this;
    const calls: KernelCall[] = [
      {
        kernel: matmul({ M: O, N: I, K: io.batch, transA: true }),
        buffers: [io.dy, io.x, this.segment.grads],
      },
      { kernel: sumRows(io.batch, O, O * I), buffers: [io.dy, this.segment.grads] },
    ];
    if (io.dx) {
      calls.push({
        kernel: matmul({ M: io.batch, N: I, K: O }),
        buffers: [io.dy, this.segment.params, io.dx],
      });
    }
    return calls;
  }

  /** PyTorch's repr. */
  override toString(): string {
    return `Linear(in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=True)`;
  }
}
