/**
 * A model summary as torchinfo prints it: each layer's output shape and parameter count, the
 * totals, parameter memory and the forward pass's multiply-adds per sample.
 *
 * @module
 */
import { type Shape, sizeOf } from "../tensor.ts";
import type { Sequential } from "./sequential.ts";
import { Conv2d } from "./conv2d.ts";
import { Linear } from "./linear.ts";

/** One row of a summary. */
export interface SummaryRow {
  /** The layer's type, e.g. `Conv2d`. */
  type: string;
  /** Its `state_dict` path, e.g. `3`. */
  path: string;
  /** Output shape for one sample, batch first (`[1, 6, 28, 28]`). */
  outputShape: number[];
  /** Parameters. */
  params: number;
  /** Forward multiply-adds for one sample. */
  multAdds: number;
}

/** What {@linkcode summary} returns. */
export interface Summary {
  /** One row per leaf layer. */
  rows: SummaryRow[];
  /** Input shape for one sample, batch first. */
  inputShape: number[];
  /** All parameters (all are trainable here). */
  totalParams: number;
  /** Bytes of the parameters (float32). */
  paramBytes: number;
  /** Forward multiply-adds per sample. */
  multAdds: number;
  /** Bytes of the activations of one sample's forward and backward pass (float32, ×2). */
  activationBytes: number;
  /** The torchinfo-style table. */
  text: string;
}

const RULE = "=".repeat(90);
const group = (n: number) => n.toLocaleString("en-US");
const mb = (bytes: number) => (bytes / 1e6).toFixed(2);

/**
 * The input shape a network's first layer implies when it fixes one (a `Linear` takes
 * `[in_features]`); otherwise an error saying how to pass it, since a convolution takes any size.
 */
function impliedInputShape(network: Sequential): Shape {
  const first = network.flat()[0].layer;
  if (first instanceof Linear) return [first.inFeatures];
  const channels = first instanceof Conv2d ? String(first.inChannels) : "C";
  throw new RangeError(
    `summary: the network has no input shape and its first layer, ${first}, does not fix one: pass it, summary(network, [${channels}, H, W]), or build the network with new Sequential(layers, { inputShape })`,
  );
}

/**
 * The summary of `network` for one sample of `inputShape` (default: the network's own, or the
 * one its first layer fixes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5 } from "./lenet.ts";
 * import { summary } from "./summary.ts";
 * import { Sequential } from "./sequential.ts";
 * import { Linear } from "./linear.ts";
 * import { Conv2d } from "./conv2d.ts";
 * const s = summary(lenet5());
 * assert.equal(s.totalParams, 61706);
 * assert.equal(s.multAdds, 416520);
 * assert.match(s.text, /├─Conv2d: 1-1 +\[1, 6, 28, 28\] +156/);
 * // Without an input shape: a first Linear layer fixes it; a convolution does not.
 * assert.deepEqual(summary(new Sequential([new Linear(784, 10)])).inputShape, [1, 784]);
 * assert.throws(() => summary(new Sequential([new Conv2d(3, 8, 3)])), /summary\(network, \[3, H, W\]\)/);
 * ```
 */
export function summary(
  network: Sequential,
  inputShape: Shape | undefined = network.inputShape,
): Summary {
  inputShape ??= impliedInputShape(network);
  const placed = network.flat();
  const shapes = network.shapes(inputShape);
  const rows: SummaryRow[] = placed.map(({ path, layer }, i) => ({
    type: String(layer).replace(/\(.*$/s, ""),
    path,
    outputShape: [1, ...shapes[i + 1]],
    params: layer.parameters.reduce((n, p) => n + p.data.length, 0),
    multAdds: layer.multAdds?.(shapes[i]) ?? 0,
  }));
  const totalParams = rows.reduce((n, r) => n + r.params, 0);
  const multAdds = rows.reduce((n, r) => n + r.multAdds, 0);
  const activationBytes = 2 * 4 * rows.reduce((n, r) => n + sizeOf(r.outputShape), 0);
  const inputBytes = 4 * sizeOf(inputShape);
  const line = (a: string, b: string, c: string) => `${a.padEnd(40)} ${b.padEnd(25)} ${c}`;
  const text = [
    RULE,
    line("Layer (type:depth-idx)", "Output Shape", "Param #"),
    RULE,
    line("Sequential", `[${[1, ...shapes.at(-1)!].join(", ")}]`, "--"),
    ...rows.map((r, i) =>
      line(
        `├─${r.type}: 1-${i + 1}`,
        `[${r.outputShape.join(", ")}]`,
        r.params ? group(r.params) : "--",
      )
    ),
    RULE,
    `Total params: ${group(totalParams)}`,
    `Trainable params: ${group(totalParams)}`,
    "Non-trainable params: 0",
    `Total mult-adds (M): ${(multAdds / 1e6).toFixed(2)}`,
    RULE,
    `Input size (MB): ${mb(inputBytes)}`,
    `Forward/backward pass size (MB): ${mb(activationBytes)}`,
    `Params size (MB): ${mb(4 * totalParams)}`,
    `Estimated Total Size (MB): ${mb(inputBytes + activationBytes + 4 * totalParams)}`,
    RULE,
  ].join("\n");
  return {
    rows,
    inputShape: [1, ...inputShape],
    totalParams,
    paramBytes: 4 * totalParams,
    multAdds,
    activationBytes,
    text,
  };
}
