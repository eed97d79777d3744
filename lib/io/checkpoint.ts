/**
 * Model checkpoints as safetensors bytes, with PyTorch's `state_dict` names (`0.weight`, ...),
 * float32 and PyTorch shapes: a file saved here loads into the reference `nn.Sequential`, and a
 * `state_dict` exported from PyTorch loads here.
 *
 * @module
 */
import { ACTIVATION_KINDS, type ActivationKind } from "../../kernels/activation.ts";
import { POOL_KINDS, type PoolKind } from "../../kernels/pool.ts";
import { DataError } from "../../errors.ts";
import { Activation } from "../nn/activation.ts";
import { Pool2d } from "../nn/pool.ts";
import type { Model } from "../train/model.ts";
import { buildNetwork, describe, type NetworkDescription } from "../nn/network.ts";
import { decodeSafetensors, encodeSafetensors, float32Tensors } from "./safetensors.ts";

/**
 * The architecture a checkpoint records in its metadata: the network's description (`network`,
 * written since descriptions exist) and LeNet-5's variant (`activation`, `pool`, `input_size`).
 */
export interface Architecture {
  /** The network as data (see `describe`): any network, rebuilt by `buildNetwork`. */
  network: NetworkDescription;
  /** Activation after each conv and hidden linear layer. */
  activation: ActivationKind;
  /** Pooling. */
  pool: PoolKind;
  /** Side of the square input images. */
  inputSize: number;
}

/**
 * The architecture a checkpoint's metadata records, each field undefined when absent (as in a
 * `state_dict` exported from PyTorch). A value that is present but unknown is a `DataError`
 * naming the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointArchitecture } from "./checkpoint.ts";
 * assert.deepEqual(checkpointArchitecture({ activation: "relu", input_size: "32" }, "m.safetensors"), {
 *   network: undefined,
 *   activation: "relu",
 *   pool: undefined,
 *   inputSize: 32,
 * });
 * assert.throws(() => checkpointArchitecture({ activation: "swish" }, "m.safetensors"), /m\.safetensors: metadata activation is "swish"/);
 * assert.throws(
 *   () => checkpointArchitecture({ network: '{"layers": [{"type": "Softmax"}]}' }, "m.safetensors"),
 *   /m\.safetensors: metadata network: layer 0: unknown type "Softmax"/,
 * );
 * assert.throws(() => checkpointArchitecture({ input_size: "28.5" }, "m.safetensors"), /input_size is "28\.5"/);
 * ```
 */
export function checkpointArchitecture(
  metadata: Record<string, string>,
  file = "checkpoint",
): Partial<Architecture> {
  const choice = <T extends string>(key: string, choices: readonly T[]): T | undefined => {
    const v = metadata[key];
    if (v === undefined) return undefined;
    if (!choices.includes(v as T)) {
      throw new DataError(file, `metadata ${key} is "${v}", expected ${choices.join(" or ")}`);
    }
    return v as T;
  };
  const size = metadata.input_size;
  if (size !== undefined && !(/^\d+$/.test(size) && Number(size) >= 12 && Number(size) <= 4096)) {
    throw new DataError(
      file,
      `metadata input_size is "${size}", expected an integer from 12 to 4096`,
    );
  }
  return {
    network: metadata.network === undefined ? undefined : networkOf(metadata.network, file),
    activation: choice("activation", ACTIVATION_KINDS),
    pool: choice("pool", POOL_KINDS),
    inputSize: size === undefined ? undefined : Number(size),
  };
}

/** A description from a file's metadata, checked by building it once. */
function networkOf(json: string, file: string): NetworkDescription {
  let description: unknown;
  try {
    description = JSON.parse(json);
  } catch {
    throw new DataError(file, "metadata network is not JSON");
  }
  try {
    buildNetwork(description);
  } catch (e) {
    throw new DataError(file, `metadata network: ${(e as Error).message}`);
  }
  return description as NetworkDescription;
}

/**
 * Throws unless `model`'s network is the one `saved` describes, naming the first layer that
 * differs (compared as PyTorch's repr, so `kernel_size: 5` and `[5, 5]` agree).
 */
function checkSameNetwork(model: Model, saved: NetworkDescription, file: string): void {
  const theirs = buildNetwork(saved).flat(), ours = model.network.flat();
  for (let i = 0; i < Math.max(theirs.length, ours.length); i++) {
    const a = theirs[i] ? String(theirs[i].layer) : "nothing",
      b = ours[i] ? String(ours[i].layer) : "nothing";
    if (a !== b || theirs[i]?.path !== ours[i]?.path) {
      throw new DataError(
        file,
        `was saved from another network: its layer ${
          theirs[i]?.path ?? i
        } is ${a}, this model's is ${b}`,
      );
    }
  }
}

/** The activations, poolings and input size of a model's network, as a checkpoint names them. */
function modelArchitecture(model: Model) {
  const layers = model.network.flat().map((p) => p.layer);
  return {
    activation: new Set<string>(layers.flatMap((l) => (l instanceof Activation ? [l.kind] : []))),
    pool: new Set<string>(layers.flatMap((l) => (l instanceof Pool2d ? [l.kind] : []))),
    inputSize: model.inputShape.at(-1),
  };
}

/** Options of {@linkcode loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /** Load NaN or infinite weights instead of refusing them (to inspect a broken run). */
  allowNonFinite?: boolean;
}

/**
 * The model's parameters as a safetensors file, with string metadata and the network's
 * description (`network`, when every layer can describe itself).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu, saveCheckpoint } from "../../mod.ts";
 * import { checkpointMetadata } from "../../engine.ts";
 * const model = new Model(await requestGpu(), lenet5());
 * const bytes = await saveCheckpoint(model, { activation: "sigmoid", pool: "avg" });
 * assert.equal(checkpointMetadata(bytes).activation, "sigmoid");
 * model.dispose();
 * ```
 */
export async function saveCheckpoint(
  model: Model,
  metadata: Record<string, string> = {},
): Promise<Uint8Array> {
  let network: string | undefined;
  try {
    network = JSON.stringify(describe(model.network, model.inputShape));
  } catch { /* a layer of the user's own without describe(): saved without a description */ }
  return encodeSafetensors(await model.stateDict(), {
    format: "pt",
    ...(network ? { network } : {}),
    ...metadata,
  });
}

/**
 * Loads a safetensors file into `model`, checking every tensor's name, dtype, shape and that its
 * values are finite, and that the architecture in the file's metadata (when present) is the
 * model's; the error names `file` and what is off. Returns the file's metadata.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, loadCheckpoint, Model, requestGpu, saveCheckpoint } from "../../mod.ts";
 * const gpu = await requestGpu();
 * const a = new Model(gpu, lenet5({ seed: 1 })), b = new Model(gpu, lenet5({ seed: 2 }));
 * loadCheckpoint(b, await saveCheckpoint(a), "a.safetensors");
 * assert.deepEqual(await b.stateDict(), await a.stateDict());
 * const larger = new Model(gpu, lenet5({ inputSize: 32 })); // Linear(576, 120), not (400, 120)
 * const bytes = await saveCheckpoint(a);
 * assert.throws(() => loadCheckpoint(larger, bytes, "a.safetensors"), /a\.safetensors: was saved from another network: its layer 7 is Linear\(in_features=400/);
 * [a, b, larger].forEach((m) => m.dispose());
 * ```
 */
export function loadCheckpoint(
  model: Model,
  bytes: Uint8Array,
  file = "checkpoint",
  options: LoadCheckpointOptions = {},
): Record<string, string> {
  const decoded = decodeSafetensors(bytes, file);
  const saved = checkpointArchitecture(decoded.metadata, file);
  const has = modelArchitecture(model);
  for (const key of ["activation", "pool"] as const) {
    const value = saved[key];
    if (value !== undefined && has[key].size > 0 && !(has[key].size === 1 && has[key].has(value))) {
      throw new DataError(
        file,
        `was saved from a model with ${key} ${value}; this model has ${[...has[key]].join(", ")}`,
      );
    }
  }
  if (saved.inputSize !== undefined && saved.inputSize !== has.inputSize) {
    throw new DataError(
      file,
      `was saved from a model of ${saved.inputSize}×${saved.inputSize} inputs; this model takes ${has.inputSize}`,
    );
  }
  // LeNet-5's variant says what differs in its own words first; then the whole network.
  if (saved.network) checkSameNetwork(model, saved.network, file);
  const tensors = float32Tensors(decoded, file);
  try {
    model.loadStateDict(tensors, { allowNonFinite: options.allowNonFinite });
  } catch (e) {
    throw new DataError(file, e instanceof Error ? e.message : String(e));
  }
  return decoded.metadata;
}

/**
 * The metadata of a safetensors file (e.g. the architecture a checkpoint was trained with).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointMetadata } from "./checkpoint.ts";
 * import { encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({}, { activation: "relu", pool: "max" });
 * assert.deepEqual(checkpointMetadata(bytes, "model.safetensors"), { activation: "relu", pool: "max" });
 * ```
 */
export function checkpointMetadata(bytes: Uint8Array, file = "checkpoint"): Record<string, string> {
  return decodeSafetensors(bytes, file).metadata;
}
