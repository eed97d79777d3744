/**
 * A network as data and back: {@linkcode describe} writes a `Sequential` as JSON in PyTorch's
 * terms (each layer's module name and constructor arguments), {@linkcode buildNetwork} builds it
 * again with PyTorch's initialisation. Checkpoints and training states carry the description, so
 * every tool rebuilds whatever network it loads.
 *
 *   { "format": "lenet-webgpu.network", "version": 1, "input_shape": [1, 28, 28],
 *     "layers": [{ "type": "Conv2d", "in_channels": 1, "out_channels": 6, "kernel_size": 5,
 *                  "padding": 2 }, { "type": "ReLU" }, ...] }
 *
 * A bad description is a `RangeError` naming the layer by its index (its `state_dict` prefix)
 * and what was expected.
 *
 * @module
 */
import { ACTIVATION_KINDS, ACTIVATIONS } from "../../kernels/activation.ts";
import { DEFAULTS } from "../defaults.ts";
import { Random } from "../random.ts";
import type { Shape } from "../tensor.ts";
import { activationLayer } from "./activation.ts";
import { BatchNorm1d, BatchNorm2d } from "./batchnorm.ts";
import { Conv2d } from "./conv2d.ts";
import { Dropout } from "./dropout.ts";
import { Flatten } from "./flatten.ts";
import type { Layer, LayerDescription } from "./layer.ts";
import { Linear } from "./linear.ts";
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from "./pool.ts";
import { Sequential } from "./sequential.ts";

/** The `format` of a network description. */
export const NETWORK_FORMAT = "lenet-webgpu.network";

/** A network as data: its layers in PyTorch's terms and, when known, its input shape. */
export interface NetworkDescription {
  /** Always {@linkcode NETWORK_FORMAT}. */
  format: typeof NETWORK_FORMAT;
  /** Version of the format: 1. */
  version: 1;
  /** Per-sample input shape, e.g. `[1, 28, 28]`. */
  input_shape?: number[];
  /** The layers, first to last (a nested one is `{ type: "Sequential", layers }`). */
  layers: LayerDescription[];
}

/**
 * The description of `network` (with `inputShape`, by default the network's own).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildNetwork, describe } from "./network.ts";
 * import { lenet5 } from "./lenet.ts";
 * const description = describe(lenet5({ activation: "relu", pool: "max" }));
 * assert.deepEqual(description.layers[1], { type: "ReLU" });
 * assert.equal(String(buildNetwork(description)), String(lenet5({ activation: "relu", pool: "max" })));
 * ```
 */
export function describe(
  network: Sequential,
  inputShape: Shape | undefined = network.inputShape,
): NetworkDescription {
  const layers = (seq: Sequential, prefix: string): LayerDescription[] =>
    seq.layers.map((layer, i) => {
      const path = `${prefix}${i}`;
      if (layer instanceof Sequential) {
        return { type: "Sequential", layers: layers(layer, `${path}.`) };
      }
      if (!layer.describe) {
        throw new RangeError(`layer ${path} (${layer}) cannot be described: it has no describe()`);
      }
      return layer.describe();
    });
  return {
    format: NETWORK_FORMAT,
    version: 1,
    ...(inputShape ? { input_shape: [...inputShape] } : {}),
    layers: layers(network, ""),
  };
}

/** Options of {@linkcode buildNetwork}. */
export interface BuildOptions {
  /** Seed of the initial weights (as `lenet5`'s); default 0. Ignored when `rng` is given. */
  seed?: number;
  /** The generator the layers draw their initial weights from, in order. */
  rng?: Random;
}

type Args = Readonly<Record<string, unknown>>;
type Builder = (args: Args, at: Place) => Layer;

/** Where a layer is, for errors: `layer 3 (Conv2d)`. */
class Place {
  constructor(readonly path: string, readonly type: string, readonly rng: Random) {}
  error(what: string): RangeError {
    return new RangeError(`layer ${this.path} (${this.type}): ${what}`);
  }
  /** A positive integer argument. */
  count(args: Args, name: string, fallback?: number): number {
    const v = args[name] ?? fallback;
    if (!(typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 2 ** 24)) {
      throw this.error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  /** An integer or a pair of them, each at least `min`. */
  pair(args: Args, name: string, fallback: unknown, min: number): [number, number] {
    const v = args[name] ?? fallback;
    const ok = (x: unknown) =>
      typeof x === "number" && Number.isInteger(x) && x >= min && x <= 4096;
    if (ok(v)) return [v as number, v as number];
    if (Array.isArray(v) && v.length === 2 && v.every(ok)) return [v[0], v[1]];
    throw this.error(
      `${name} must be an integer ≥ ${min} or a pair of them, got ${JSON.stringify(v)}`,
    );
  }
  /** Throws on an argument the layer does not take. */
  only(args: Args, names: readonly string[]): void {
    const extra = Object.keys(args).find((k) => k !== "type" && !names.includes(k));
    if (extra !== undefined) {
      throw this.error(
        `unknown argument "${extra}"${
          names.length ? `; it takes ${names.join(", ")}` : "; it takes none"
        }`,
      );
    }
  }
}

const pooling = (Kind: typeof AvgPool2d | typeof MaxPool2d): Builder => (args, at) => {
  at.only(args, ["kernel_size", "stride", "padding"]);
  const kernel = at.pair(args, "kernel_size", undefined, 1);
  const stride = at.pair(args, "stride", args.kernel_size, 1);
  const padding = at.pair(args, "padding", 0, 0);
  if (padding[0] * 2 > kernel[0] || padding[1] * 2 > kernel[1]) {
    throw at.error(`padding should be at most half of kernel_size (PyTorch's rule)`);
  }
  return new Kind(kernel, { stride, padding });
};

const batchNorm = (Kind: typeof BatchNorm1d | typeof BatchNorm2d): Builder => (args, at) => {
  at.only(args, ["num_features", "eps", "momentum", "affine", "track_running_stats"]);
  for (const flag of ["affine", "track_running_stats"]) {
    if (args[flag] !== undefined && args[flag] !== true) {
      throw at.error(`only ${flag}=true is supported, got ${JSON.stringify(args[flag])}`);
    }
  }
  const real = (name: string, fallback: number, ok: (v: number) => boolean, what: string) => {
    const v = args[name] ?? fallback;
    if (!(typeof v === "number" && ok(v))) {
      throw at.error(`${name} must be ${what}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  return new Kind(at.count(args, "num_features"), {
    eps: real("eps", 1e-5, (v) => v > 0 && Number.isFinite(v), "a positive number"),
    momentum: real("momentum", 0.1, (v) => v >= 0 && v <= 1, "in [0, 1]"),
  });
};

/** How each layer type is built from its arguments: the one list of types a description may use. */
const BUILDERS: Readonly<Record<string, Builder>> = {
  Conv2d: (args, at) => {
    at.only(args, ["in_channels", "out_channels", "kernel_size", "stride", "padding"]);
    return new Conv2d(
      at.count(args, "in_channels"),
      at.count(args, "out_channels"),
      at.pair(args, "kernel_size", undefined, 1),
      {
        stride: at.pair(args, "stride", 1, 1),
        padding: at.pair(args, "padding", 0, 0),
        rng: at.rng,
      },
    );
  },
  Linear: (args, at) => {
    at.only(args, ["in_features", "out_features"]);
    return new Linear(at.count(args, "in_features"), at.count(args, "out_features"), {
      rng: at.rng,
    });
  },
  Flatten: (args, at) => {
    at.only(args, []);
    return new Flatten();
  },
  AvgPool2d: pooling(AvgPool2d),
  MaxPool2d: pooling(MaxPool2d),
  BatchNorm1d: batchNorm(BatchNorm1d),
  BatchNorm2d: batchNorm(BatchNorm2d),
  Dropout: (args, at) => {
    at.only(args, ["p", "inplace"]);
    if (args.inplace !== undefined && args.inplace !== false) {
      throw at.error(`only inplace=false is supported, got ${JSON.stringify(args.inplace)}`);
    }
    const p = args.p ?? 0.5;
    if (!(typeof p === "number" && p >= 0 && p < 1)) {
      throw at.error(`p must be a number in [0, 1), got ${JSON.stringify(p)}`);
    }
    return new Dropout(p);
  },
  AdaptiveAvgPool2d: (args, at) => {
    at.only(args, ["output_size"]);
    const [h, w] = at.pair(args, "output_size", undefined, 1);
    if (h !== 1 || w !== 1) throw at.error(`only output_size 1 is supported, got ${h}×${w}`);
    return new AdaptiveAvgPool2d(1);
  },
  ...Object.fromEntries(ACTIVATION_KINDS.map((kind): [string, Builder] => [
    ACTIVATIONS[kind].torch,
    (args, at) => {
      at.only(args, kind === "leaky_relu" ? ["negative_slope"] : []);
      const slope = args.negative_slope;
      if (slope !== undefined && !(typeof slope === "number" && Number.isFinite(slope))) {
        throw at.error(`negative_slope must be a finite number, got ${JSON.stringify(slope)}`);
      }
      return activationLayer(kind, { negativeSlope: slope as number | undefined });
    },
  ])),
};

/** The layer types a description may use. */
export const LAYER_TYPES: readonly string[] = [...Object.keys(BUILDERS), "Sequential"];

function buildLayers(list: unknown, prefix: string, rng: Random): (Layer | Sequential)[] {
  const where = prefix ? `layer ${prefix.slice(0, -1)} (Sequential): ` : "";
  if (!Array.isArray(list) || list.length === 0) {
    throw new RangeError(`${where}layers must be a non-empty array of layers`);
  }
  return list.map((item, i) => {
    const path = `${prefix}${i}`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new RangeError(
        `layer ${path}: expected an object with a "type", got ${JSON.stringify(item)}`,
      );
    }
    const args = item as Args;
    const type = args.type;
    if (type === "Sequential") {
      const at = new Place(path, "Sequential", rng);
      at.only(args, ["layers"]);
      return new Sequential(buildLayers(args.layers, `${path}.`, rng));
    }
    const build = typeof type === "string" && Object.hasOwn(BUILDERS, type)
      ? BUILDERS[type]
      : undefined;
    if (!build) {
      throw new RangeError(
        `layer ${path}: unknown type ${JSON.stringify(type)}; expected one of ${
          LAYER_TYPES.join(", ")
        }`,
      );
    }
    return build(args, new Place(path, type as string, rng));
  });
}

/** The input shape of a description: 1 or 3 positive integers. */
function inputShapeOf(value: unknown): Shape | undefined {
  if (value === undefined) return undefined;
  const ok = Array.isArray(value) && (value.length === 1 || value.length === 3) &&
    value.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 1 && d <= 2 ** 24);
  if (!ok) {
    throw new RangeError(
      `input_shape must be [features] or [channels, height, width] of positive integers, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return value as number[];
}

/**
 * Builds the network a description gives, with PyTorch's initialisation drawn in layer order from
 * a seeded generator (so `buildNetwork(describe(lenet5({ seed })), { seed })` has `lenet5`'s very
 * weights). When it has an input shape, the shapes must chain through every layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildNetwork } from "./network.ts";
 * const net = buildNetwork({
 *   format: "lenet-webgpu.network",
 *   version: 1,
 *   input_shape: [1, 28, 28],
 *   layers: [
 *     { type: "Conv2d", in_channels: 1, out_channels: 8, kernel_size: 3, stride: 2, padding: 1 },
 *     { type: "GELU" },
 *     { type: "AdaptiveAvgPool2d", output_size: 1 },
 *     { type: "Flatten" },
 *     { type: "Linear", in_features: 8, out_features: 10 },
 *   ],
 * });
 * assert.deepEqual(net.outputShape([1, 28, 28]), [10]);
 * assert.throws(
 *   () => buildNetwork({ layers: [{ type: "Linear", in_features: 8, out_features: 0 }] }),
 *   /layer 0 \(Linear\): out_features must be a positive integer, got 0/,
 * );
 * ```
 */
export function buildNetwork(description: unknown, options: BuildOptions = {}): Sequential {
  if (description === null || typeof description !== "object" || Array.isArray(description)) {
    throw new RangeError("a network description must be a JSON object with a layers array");
  }
  const d = description as Record<string, unknown>;
  if (d.format !== undefined && d.format !== NETWORK_FORMAT) {
    throw new RangeError(`format must be "${NETWORK_FORMAT}", got ${JSON.stringify(d.format)}`);
  }
  if (d.version !== undefined && d.version !== 1) {
    throw new RangeError(`version ${JSON.stringify(d.version)} is not known; this reads version 1`);
  }
  const unknown = Object.keys(d).find((k) =>
    !["format", "version", "input_shape", "layers"].includes(k)
  );
  if (unknown !== undefined) {
    throw new RangeError(
      `unknown key "${unknown}" in the description; it has format, version, input_shape, layers`,
    );
  }
  const inputShape = inputShapeOf(d.input_shape);
  const rng = options.rng ?? new Random(options.seed ?? DEFAULTS.seed);
  const network = new Sequential(buildLayers(d.layers, "", rng), { inputShape });
  if (inputShape) checkChain(network, inputShape);
  return network;
}

/**
 * Throws unless the shapes chain from `input` through every layer, naming the first layer that
 * does not take what the one before gives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkChain } from "./network.ts";
 * import { Sequential } from "./sequential.ts";
 * import { Flatten } from "./flatten.ts";
 * import { Linear } from "./linear.ts";
 * const net = new Sequential([new Flatten(), new Linear(100, 10)]);
 * assert.throws(() => checkChain(net, [1, 28, 28]), /layer 1 \(Linear\(in_features=100.*784/);
 * ```
 */
export function checkChain(network: Sequential, input: Shape): void {
  let shape = input;
  for (const { path, layer } of network.flat()) {
    try {
      shape = layer.outputShape(shape);
    } catch (e) {
      // The layer's own message starts with its repr; say where it is instead.
      const message = (e as Error).message;
      const own = `${layer}: `;
      throw new RangeError(
        `layer ${path} (${layer}): ${
          message.startsWith(own) ? message.slice(own.length) : message
        }`,
      );
    }
  }
}
