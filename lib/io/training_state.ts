/**
 * The training state of a run, in one safetensors file written beside the weights: the weights
 * (`model.<name>`), the optimiser's state named as PyTorch's `optimizer.state_dict()` names it
 * (`optimizer.<name>.exp_avg`, `.exp_avg_sq`, `.momentum_buffer`), and in the metadata the
 * optimiser's step count, the run's progress (epochs, batches, the shuffling generator's state),
 * its settings, and its metrics and logged losses so far. One file, so that weights and optimiser
 * state can never come from different moments.
 *
 * @module
 */
import { DataError } from "../../errors.ts";
import type { Tensor } from "../tensor.ts";
import { buildNetwork, type NetworkDescription } from "../nn/network.ts";
import type { OptimizerState } from "../train/optimizer.ts";
import type { EpochMetrics, LossPoint, TrainProgress } from "../train/trainer.ts";
import { decodeSafetensors, encodeSafetensors, float32Tensors } from "./safetensors.ts";

/** The format tag in the metadata. */
export const TRAINING_STATE_FORMAT = "lenet-webgpu training state 1";

/** Everything needed to continue a run exactly. */
export interface TrainingState {
  /** The model's parameters, by `state_dict` name. */
  model: Record<string, Tensor>;
  /** The optimiser's state. */
  optimizer: OptimizerState;
  /** Where the run stands. */
  progress: TrainProgress;
  /** The settings that define the run (architecture, optimiser, batch, data...), as JSON values. */
  settings: Record<string, unknown>;
  /** Metrics of the epochs done. */
  epochs: EpochMetrics[];
  /** Losses logged so far. */
  losses: LossPoint[];
  /** The network trained (see `describe`), when known; files written before it had none. */
  network?: NetworkDescription;
}

/**
 * The state as safetensors bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeTrainingState, encodeTrainingState } from "./training_state.ts";
 * const state = {
 *   model: { "0.bias": { shape: [2], data: Float32Array.of(1, 2) } },
 *   optimizer: { step: 3, tensors: { "0.bias.exp_avg": { shape: [2], data: Float32Array.of(0.5, 0) } } },
 *   progress: { epoch: 1, batch: 0, step: 3, rng: [1, 2, 3, 4], totals: [0, 0, 0, 0], pending: { sum: 0, steps: 0, lastRead: 0 } },
 *   settings: { lr: 0.001 },
 *   epochs: [],
 *   losses: [{ step: 2, loss: 2.3 }],
 * };
 * const back = decodeTrainingState(encodeTrainingState(state), "state.safetensors");
 * assert.deepEqual(back, state);
 * ```
 */
export function encodeTrainingState(state: TrainingState): Uint8Array {
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(state.model)) tensors[`model.${name}`] = t;
  for (const [name, t] of Object.entries(state.optimizer.tensors)) tensors[`optimizer.${name}`] = t;
  return encodeSafetensors(tensors, {
    format: TRAINING_STATE_FORMAT,
    optimizer_step: String(state.optimizer.step),
    progress: JSON.stringify(state.progress),
    settings: JSON.stringify(state.settings),
    epochs: JSON.stringify(state.epochs),
    losses: JSON.stringify(state.losses),
    ...(state.network ? { network: JSON.stringify(state.network) } : {}),
  });
}

/** Reads a training state; anything missing or malformed is a `DataError` naming `file`. */
export function decodeTrainingState(bytes: Uint8Array, file = "training state"): TrainingState {
  const decoded = decodeSafetensors(bytes, file);
  const meta = decoded.metadata;
  if (meta.format !== TRAINING_STATE_FORMAT) {
    throw new DataError(
      file,
      `not a training state of this project (format ${JSON.stringify(meta.format)})`,
    );
  }
  const json = (key: string) => {
    try {
      return JSON.parse(meta[key] ?? "");
    } catch {
      throw new DataError(file, `metadata ${key} is missing or not JSON`);
    }
  };
  const progress = json("progress") as TrainProgress;
  const ok = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  if (
    typeof progress !== "object" || progress === null || !ok(progress.epoch) ||
    !ok(progress.batch) ||
    !ok(progress.step) || !Array.isArray(progress.rng) || progress.rng.length !== 4 ||
    !Array.isArray(progress.totals) || typeof progress.pending !== "object"
  ) {
    throw new DataError(file, "metadata progress is malformed");
  }
  const step = Number(meta.optimizer_step);
  if (!ok(step)) throw new DataError(file, `metadata optimizer_step is "${meta.optimizer_step}"`);
  const epochs = json("epochs"), losses = json("losses"), settings = json("settings");
  if (
    !Array.isArray(epochs) || !Array.isArray(losses) || typeof settings !== "object" || !settings
  ) {
    throw new DataError(file, "metadata epochs, losses or settings are malformed");
  }
  const network = meta.network === undefined ? undefined : json("network");
  if (network !== undefined) {
    try {
      buildNetwork(network);
    } catch (e) {
      throw new DataError(file, `metadata network: ${(e as Error).message}`);
    }
  }
  const tensors = float32Tensors(decoded, file);
  const state: TrainingState = {
    model: {},
    optimizer: { step, tensors: {} },
    progress,
    settings,
    epochs,
    losses,
    ...(network === undefined ? {} : { network }),
  };
  for (const [name, t] of Object.entries(tensors)) {
    if (name.startsWith("model.")) state.model[name.slice(6)] = t;
    else if (name.startsWith("optimizer.")) state.optimizer.tensors[name.slice(10)] = t;
    else throw new DataError(file, `unexpected tensor "${name}"`);
  }
  return state;
}
