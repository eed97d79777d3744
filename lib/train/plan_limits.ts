/**
 * How large a step plan's buffers get, and the largest batch that fits the device: every buffer
 * of a plan grows linearly with the batch, and each must fit one storage binding.
 *
 * @module
 */
import { sizeOf } from "../tensor.ts";
import { DeviceLimitError } from "../../errors.ts";
import { fusedActivations } from "./fusion.ts";
import type { Mode, PlanModel } from "./plan.ts";

/** The largest buffer one binding may have on `device`, in bytes. */
export function bufferLimit(device: GPUDevice): number {
  return Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
}

/**
 * The storage buffers a plan would allocate, with their sizes in bytes (nothing is allocated):
 * the input, each activation and its gradient, and each layer's scratch buffers.
 */
export function planBuffers(
  model: PlanModel,
  batch: number,
  mode: Mode,
): { name: string; bytes: number }[] {
  const training = mode === "train";
  const layers = model.layers.map((p) => p.layer);
  const fused = fusedActivations(layers);
  const out = [{
    name: `the input x [${batch},${model.inputShape}]`,
    bytes: 4 * batch * sizeOf(model.inputShape),
  }];
  let shape = model.inputShape;
  layers.forEach((layer, i) => {
    for (
      const [name, request] of Object.entries(layer.workspace(batch, shape, training, model.tuning))
    ) {
      if (typeof request === "number") {
        out.push({ name: `${model.layers[i].path}.${name} of ${layer}`, bytes: request });
      }
    }
    shape = layer.outputShape(shape);
    if (!fused[i] && !layer.reshapeOnly) {
      const bytes = 4 * batch * sizeOf(shape);
      const name = `the output of ${model.layers[i].path} ${layer} [${batch},${shape}]`;
      out.push({ name, bytes });
      if (training) out.push({ name: `the gradient of ${name.slice(4)}`, bytes });
    }
  });
  return out;
}

/**
 * The largest batch whose plan fits the device's buffer limit (every plan buffer grows linearly
 * with the batch).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu } from "../../mod.ts";
 * const model = new Model(await requestGpu(), lenet5());
 * const max = model.maxBatchSize("train");
 * assert.ok(max >= 256);
 * await assert.rejects(model.plan(max + 1, "train"), /a batch of at most/);
 * model.dispose();
 * ```
 */
export function maxBatchSize(model: PlanModel, mode: Mode): number {
  const perImage = Math.max(...planBuffers(model, 1, mode).map((b) => b.bytes));
  let batch = Math.floor(bufferLimit(model.device) / perImage);
  // Chunked layouts round up a little: step down until every buffer fits.
  while (batch > 1 && !fits(model, batch, mode)) batch--;
  return batch;
}

function fits(model: PlanModel, batch: number, mode: Mode): boolean {
  const limit = bufferLimit(model.device);
  return planBuffers(model, batch, mode).every((b) => Math.ceil(b.bytes / 256) * 256 <= limit);
}

/** Throws {@linkcode DeviceLimitError} when a buffer of the plan would exceed the device's limit. */
export function checkLimits(model: PlanModel, batch: number, mode: Mode): void {
  const limit = bufferLimit(model.device);
  const largest = planBuffers(model, batch, mode).reduce((a, b) => (b.bytes > a.bytes ? b : a));
  if (Math.ceil(largest.bytes / 256) * 256 <= limit) return;
  const max = maxBatchSize(model, mode);
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  throw new DeviceLimitError(
    `a batch of ${batch} needs ${
      mb(largest.bytes)
    } for ${largest.name}, but this adapter binds at most ${
      mb(limit)
    } per buffer: use a batch of at most ${max}`,
    max,
  );
}
