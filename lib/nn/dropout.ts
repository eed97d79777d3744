/**
 * `Dropout(p)`, PyTorch's semantics: in training each value is zeroed with probability p and the
 * others scaled by 1/(1 - p); in evaluation, prediction and inspection it passes its input on.
 * Its mask is drawn on the device from the model's `[seed, step]` uniform (kernels/dropout.ts),
 * not stored: the backward draws it again.
 *
 *   x [B, ...] → y [B, ...]
 *   forward   training: dropoutForward; otherwise copy
 *   backward  training: dropoutBackward; otherwise copy
 *
 * @module
 */
import { copy, dropoutBackward, dropoutForward } from "../../kernels/dropout.ts";
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
 * Zeroes values at random in training (probability `p`), scaling the rest by 1/(1 - p).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Dropout } from "./dropout.ts";
 * assert.equal(String(new Dropout(0.3)), "Dropout(p=0.3, inplace=False)");
 * assert.throws(() => new Dropout(1), /Dropout: p must be in \[0, 1\), got 1/);
 * ```
 */
export class Dropout implements Layer {
  /** No parameters. */
  readonly parameters: readonly Parameter[] = [];
  /** Probability of zeroing a value. */
  readonly p: number;

  /** PyTorch's `Dropout(p)` (default 0.5). */
  constructor(p = 0.5) {
    if (typeof p !== "number" || !(p >= 0 && p < 1)) {
      throw new RangeError(`Dropout: p must be in [0, 1), got ${p}`);
    }
    this.p = p;
  }

  /** The input shape. */
  outputShape(input: Shape): Shape {
    return input;
  }

  /** No scratch buffers: the mask is drawn again in the backward. */
  workspace(): Workspace {
    return {};
  }

  /** Training: y = x·mask/(1 - p); otherwise y = x. */
  forward(io: ForwardIO): Op[] {
    const n = io.batch * sizeOf(io.input);
    return [
      io.training
        ? {
          name: "dropout.forward",
          variant: "counter-based mask",
          why: "the mask is a hash of (seed, step, position, element): nothing stored",
          reads: ["x"],
          writes: ["y"],
          flops: n,
          bytes: 8 * n,
          calls: [{
            kernel: dropoutForward(n, this.p, io.position),
            buffers: [io.x, io.noise, io.y],
          }],
        }
        : {
          name: "dropout.forward",
          variant: "identity",
          why: "evaluation: dropout passes its input on",
          reads: ["x"],
          writes: ["y"],
          flops: 0,
          bytes: 8 * n,
          calls: [{ kernel: copy(n), buffers: [io.x, io.y] }],
        },
    ];
  }

  /** Training: dx = dy·mask/(1 - p), the same mask; otherwise dx = dy. */
  backward(io: BackwardIO): Op[] {
    const dy = storedDy(this, io);
    if (!io.dx) return [];
    const n = io.batch * sizeOf(io.input);
    return [{
      name: "dropout.backward",
      variant: io.training ? "counter-based mask" : "identity",
      why: io.training ? "the forward's mask drawn again" : "evaluation: the gradient passes on",
      reads: ["dy"],
      writes: ["dx"],
      flops: io.training ? n : 0,
      bytes: 8 * n,
      calls: [
        io.training
          ? { kernel: dropoutBackward(n, this.p, io.position), buffers: [dy, io.noise, io.dx] }
          : { kernel: copy(n), buffers: [dy, io.dx] },
      ],
    }];
  }

  /** The layer as data, in PyTorch's terms. */
  describe(): LayerDescription {
    return { type: "Dropout", p: this.p };
  }

  /** PyTorch's repr. */
  toString(): string {
    return `Dropout(p=${this.p}, inplace=False)`;
  }
}
