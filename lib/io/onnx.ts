/**
 * ONNX export: a model's network as an ONNX graph (opset 13, IR version 8, float32) that
 * onnxruntime (server, mobile, web) and most tools read. Each layer becomes its operator —
 * Conv, AveragePool/MaxPool/GlobalAveragePool, Flatten, Gemm, and each activation the operators
 * its table entry names (GELU through Erf) — with the weights as initialisers named as in the
 * `state_dict` (`0.weight`, ...). The input is `input`, `[N, 1, S, S]` float32 with a
 * dynamic batch `N`, pixels already divided by 255 (and resized to S×S when the model was trained
 * with `--resize`); the output is `logits`, `[N, classes]`. The model's metadata says so.
 *
 * @module
 */
import { type ActivationOnnxNode, ACTIVATIONS } from "../../kernels/activation.ts";
import { Activation } from "../nn/activation.ts";
import { BatchNorm } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv2d.ts";
import { Dropout } from "../nn/dropout.ts";
import { Flatten } from "../nn/flatten.ts";
import { Linear } from "../nn/linear.ts";
import { AdaptiveAvgPool2d, Pool2d } from "../nn/pool.ts";
import { POOLINGS } from "../../kernels/pool.ts";
import type { Tensor } from "../tensor.ts";
import type { Model } from "../train/model.ts";
import { ProtoWriter } from "./_protobuf.ts";

/** The opset the graph uses: every operator here has had its current form since 13. */
export const ONNX_OPSET = 13;
/** ONNX IR version 8 (ONNX 1.10+, onnxruntime 1.10+). */
const IR_VERSION = 8;
/** `TensorProto.DataType.FLOAT`. */
const FLOAT = 1;

/** Options of {@linkcode exportOnnx}. */
export interface OnnxOptions {
  /** Extra metadata (`metadata_props`), e.g. the class names or the training run. */
  metadata?: Record<string, string>;
}

/** An ONNX attribute: an int, a float or a list of ints. */
type Attribute = number | readonly number[] | { float: number };

/** One graph node. */
interface Node {
  op: string;
  inputs: string[];
  output: string;
  attributes?: Record<string, Attribute>;
}

function attribute(name: string, value: Attribute): ProtoWriter {
  const a = new ProtoWriter().string(1, name);
  if (typeof value === "number") return a.int(3, value).int(20, 2); // INT
  if (Array.isArray(value)) {
    for (const v of value) a.int(8, v);
    return a.int(20, 7); // INTS
  }
  return a.float(2, (value as { float: number }).float).int(20, 1); // FLOAT
}

function nodeProto(node: Node, index: number): ProtoWriter {
  const n = new ProtoWriter();
  for (const input of node.inputs) n.string(1, input);
  n.string(2, node.output).string(3, `${node.op}_${index}`).string(4, node.op);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    n.message(5, attribute(name, value));
  }
  return n;
}

function tensorProto(name: string, t: Tensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.shape) w.int(1, d);
  const raw = new Uint8Array(t.data.length * 4);
  new Float32Array(raw.buffer).set(t.data); // little-endian, as ONNX's raw_data is
  return w.int(2, FLOAT).string(8, name).bytes(9, raw);
}

function valueInfo(name: string, dims: readonly (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) {
    shape.message(
      1,
      typeof d === "number" ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d),
    );
  }
  const tensor = new ProtoWriter().int(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensor));
}

/** A scalar float constant the graph needs (an activation's), named for its value. */
function constantName(value: number): string {
  return `const_${value}`;
}

/** An activation's nodes from its table entry, the last writing `y`. */
function activationNodes(layer: Activation, x: string, y: string, path: string): Node[] {
  const steps = ACTIVATIONS[layer.kind].onnx(layer.args) as readonly ActivationOnnxNode[];
  let prev = x;
  return steps.map((step, k) => {
    const output = k === steps.length - 1 ? y : `h${path}_${k}`;
    const inputs = step.inputs.map((v) => v === "x" ? x : v === "prev" ? prev : constantName(v));
    const attributes = Object.fromEntries(
      Object.entries(step.floats ?? {}).map(([name, v]) => [name, { float: v }]),
    );
    prev = output;
    return { op: step.op, inputs, output, attributes };
  });
}

/** The constants the nodes name (`const_<value>`), as scalar initialisers. */
function constants(graphNodes: readonly Node[]): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const input of graphNodes.flatMap((n) => n.inputs)) {
    if (input.startsWith("const_")) {
      out.set(input, { shape: [], data: Float32Array.of(Number(input.slice(6))) });
    }
  }
  return out;
}

/** The graph's nodes, one per layer (Flatten included: ONNX has no implicit reshape). */
function nodes(model: Model): Node[] {
  const out: Node[] = [];
  let x = "input";
  for (const [i, { path, layer }] of model.network.flat().entries()) {
    const y = i === model.network.flat().length - 1 ? "logits" : `h${path}`;
    // Dropout is the identity in inference: left out, unless its output is the graph's.
    if (layer instanceof Dropout && y !== "logits") continue;
    const pair = (p: readonly [number, number]) => [p[0], p[1], p[0], p[1]];
    if (layer instanceof Conv2d) {
      out.push({
        op: "Conv",
        inputs: [x, `${path}.weight`, `${path}.bias`],
        output: y,
        attributes: {
          kernel_shape: layer.kernelSize,
          strides: layer.stride,
          pads: pair(layer.padding),
          dilations: [1, 1],
          group: 1,
        },
      });
    } else if (layer instanceof Activation) {
      out.push(...activationNodes(layer, x, y, path));
    } else if (layer instanceof Pool2d) {
      const attributes: Record<string, Attribute> = {
        kernel_shape: layer.kernelSize,
        strides: layer.stride,
        pads: pair(layer.padding),
      };
      // PyTorch's AvgPool2d counts padding in the divisor by default.
      if (layer.kind === "avg") attributes.count_include_pad = 1;
      out.push({ op: POOLINGS[layer.kind].onnx, inputs: [x], output: y, attributes });
    } else if (layer instanceof AdaptiveAvgPool2d) {
      out.push({ op: "GlobalAveragePool", inputs: [x], output: y });
    } else if (layer instanceof BatchNorm) {
      // Inference form: the running statistics normalise.
      out.push({
        op: "BatchNormalization",
        inputs: [
          x,
          ...["weight", "bias", "running_mean", "running_var"].map((n) => `${path}.${n}`),
        ],
        output: y,
        attributes: { epsilon: { float: layer.eps }, momentum: { float: 1 - layer.momentum } },
      });
    } else if (layer instanceof Dropout) {
      out.push({ op: "Identity", inputs: [x], output: y });
    } else if (layer instanceof Flatten) {
      out.push({ op: "Flatten", inputs: [x], output: y, attributes: { axis: 1 } });
    } else if (layer instanceof Linear) {
      out.push({
        op: "Gemm",
        inputs: [x, `${path}.weight`, `${path}.bias`],
        output: y,
        attributes: { alpha: { float: 1 }, beta: { float: 1 }, transB: 1 },
      });
    } else {
      throw new RangeError(`exportOnnx: no ONNX operator for ${layer}`);
    }
    x = y;
  }
  return out;
}

/**
 * The model as an ONNX file: its graph, its current weights, and metadata stating the input's
 * preparation (`pixels / 255`) and shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu } from "../../mod.ts";
 * import { exportOnnx } from "./onnx.ts";
 * using model = new Model(await requestGpu(), lenet5({ activation: "relu", pool: "max" }));
 * const bytes = await exportOnnx(model);
 * // A protobuf whose graph holds the operators and the weights (61,706 floats).
 * assert.ok(bytes.length > 61706 * 4);
 * assert.ok(new TextDecoder().decode(bytes).includes("MaxPool"));
 * ```
 */
export async function exportOnnx(model: Model, options: OnnxOptions = {}): Promise<Uint8Array> {
  const weights = await model.stateDict();
  const graph = new ProtoWriter();
  const graphNodes = nodes(model);
  graphNodes.forEach((node, k) => graph.message(1, nodeProto(node, k)));
  graph.string(2, "lenet");
  for (const [name, t] of Object.entries(weights)) {
    // A count the graph has no use for (PyTorch's export leaves it out too).
    if (!name.endsWith(".num_batches_tracked")) graph.message(5, tensorProto(name, t));
  }
  for (const [name, t] of constants(graphNodes)) graph.message(5, tensorProto(name, t));
  graph.message(11, valueInfo("input", ["N", ...model.inputShape]));
  graph.message(12, valueInfo("logits", ["N", model.classes]));
  const side = model.inputShape.at(-1);
  const metadata: Record<string, string> = {
    input: `input: [N, ${model.inputShape.join(", ")}] float32, grey pixels / 255${
      side === 28 ? "" : ` resized to ${side}×${side} (bilinear)`
    }`,
    output: `logits: [N, ${model.classes}] (softmax gives the class probabilities)`,
    preprocessing: "x = pixels / 255",
    architecture: String(model.network),
    ...options.metadata,
  };
  const file = new ProtoWriter()
    .int(1, IR_VERSION)
    .string(2, "lenet-webgpu")
    .string(3, "0.1.0")
    .message(7, graph);
  file.message(8, new ProtoWriter().string(1, "").int(2, ONNX_OPSET));
  for (const [key, value] of Object.entries(metadata)) {
    file.message(14, new ProtoWriter().string(1, key).string(2, value));
  }
  return file.finish();
}
