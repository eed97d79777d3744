/**
 * Whether a step's buffers fit the device, and the largest batch that does: every tensor of a
 * step's layout (`layout.ts`, the same list the plan allocates) grows linearly with the batch, and
 * each must fit one storage binding.
 *
 * @module
 */
import { DeviceLimitError } from "../../errors.ts";
import { type LayoutModel, type Mode, type StepLayout, stepLayout } from "./layout.ts";

/** A model's layout inputs and the device whose limits apply. */
export interface LimitsModel extends LayoutModel {
  /** The device. */
  device: GPUDevice;
}

/** The largest buffer one binding may have on `device`, in bytes. */
export function bufferLimit(device: GPUDevice): number {
  return Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
}

/** Bytes a buffer takes once rounded up as buffers are (256-byte granules). */
const rounded = (bytes: number) => Math.ceil(bytes / 256) * 256;

/** The layout's largest buffer. */
function largest(layout: StepLayout) {
  return layout.tensors.reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

/**
 * The largest batch whose plan fits the device's buffer limit.
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
export function maxBatchSize(model: LimitsModel, mode: Mode): number {
  const limit = bufferLimit(model.device);
  let batch = Math.floor(limit / largest(stepLayout(model, 1, mode)).bytes);
  // Chunked layouts round up a little: step down until every buffer fits.
  while (batch > 1 && rounded(largest(stepLayout(model, batch, mode)).bytes) > limit) batch--;
  return batch;
}

/** Throws {@linkcode DeviceLimitError} when a buffer of the layout exceeds the device's limit. */
export function checkLimits(model: LimitsModel, layout: StepLayout): void {
  const limit = bufferLimit(model.device);
  const big = largest(layout);
  if (rounded(big.bytes) <= limit) return;
  const max = maxBatchSize(model, layout.mode);
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  throw new DeviceLimitError(
    `a batch of ${layout.batch} needs ${
      mb(big.bytes)
    } for ${big.what}, but this adapter binds at most ${
      mb(limit)
    } per buffer: use a batch of at most ${max}`,
    max,
  );
}
