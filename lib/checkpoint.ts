/**
 * Model checkpoints as safetensors bytes, with PyTorch's `state_dict` names (`0.weight`, ...),
 * float32 and PyTorch shapes: a file saved here loads into the reference `nn.Sequential`, and a
 * `state_dict` exported from PyTorch loads here.
 *
 * @module
 */
import type { Model } from "./model.ts";
import { decodeSafetensors, encodeSafetensors, float32Tensors } from "./safetensors.ts";

/**
 * The model's parameters as a safetensors file, with string metadata.
 *
 * @example
 * ```ts ignore
 * import { saveCheckpoint } from "./checkpoint.ts";
 * await Deno.writeFile("model.safetensors", await saveCheckpoint(model, { activation: "sigmoid" }));
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
 * ```ts ignore
 * import { loadCheckpoint } from "./checkpoint.ts";
 * loadCheckpoint(model, await Deno.readFile("model.safetensors"), "model.safetensors");
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
 * ```ts ignore
 * import { checkpointMetadata } from "./checkpoint.ts";
 * const { activation, pool } = checkpointMetadata(bytes, "model.safetensors");
 * ```
 */
export function checkpointMetadata(bytes: Uint8Array, file = "checkpoint"): Record<string, string> {
  return decodeSafetensors(bytes, file).metadata;
}
