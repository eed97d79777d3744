/**
 * Model checkpoints as safetensors bytes, with PyTorch's `state_dict` names (`0.weight`, ...),
 * float32 and PyTorch shapes: a file saved here loads into the reference `nn.Sequential`, and a
 * `state_dict` exported from PyTorch loads here.
 *
 * @module
 */
import type { Model } from "../train/model.ts";
import { decodeSafetensors, encodeSafetensors, float32Tensors } from "./safetensors.ts";

/**
 * The model's parameters as a safetensors file, with string metadata.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkpointMetadata, lenet5, Model, requestGpu, saveCheckpoint } from "../../mod.ts";
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
  return encodeSafetensors(await model.stateDict(), { format: "pt", ...metadata });
}

/**
 * Loads a safetensors file into `model`, checking every tensor's name, dtype and shape; the
 * error names `file` and the tensor that is off. Returns the file's metadata.
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
 * assert.throws(() => loadCheckpoint(larger, bytes, "a.safetensors"), /a\.safetensors: .*7\.weight/);
 * [a, b, larger].forEach((m) => m.dispose());
 * ```
 */
export function loadCheckpoint(
  model: Model,
  bytes: Uint8Array,
  file = "checkpoint",
): Record<string, string> {
  const decoded = decodeSafetensors(bytes, file);
  try {
    model.loadStateDict(float32Tensors(decoded, file));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new RangeError(message.startsWith(`${file}:`) ? message : `${file}: ${message}`);
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
