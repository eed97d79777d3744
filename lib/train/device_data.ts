/**
 * A dataset split resident on the device: pixels and labels packed four bytes to a u32, and an
 * order buffer (identity for evaluation, a permutation per epoch for training). A pass uploads
 * its split once and frees it when it ends; batches are then gathered on the device.
 *
 * @module
 */
import type { Split } from "../../data/dataset.ts";
import { storageBuffer, writeBytes } from "../gpu/buffers.ts";
import { DeviceLimitError } from "../../errors.ts";

/** The buffers of a split on a device. */
export interface DeviceSplit {
  /** Number of images. */
  count: number;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** Pixels, 4 per u32. */
  images: GPUBuffer;
  /** Labels, 4 per u32. */
  labels: GPUBuffer;
  /** Sample order (u32 per image); identity until written. */
  order: GPUBuffer;
}

/** Uploads `split` to `device`; the caller frees it with {@linkcode destroySplit}. */
export function uploadSplit(device: GPUDevice, split: Split): DeviceSplit {
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  if (split.images.length > limit) {
    throw new DeviceLimitError(
      `the split's ${split.count} images take ${split.images.length} bytes, but this adapter binds at most ${limit} per buffer: use fewer images`,
    );
  }
  const identity = Uint32Array.from({ length: split.count }, (_, i) => i);
  return {
    count: split.count,
    rows: split.rows,
    cols: split.cols,
    images: storageBuffer(device, split.images, "dataset images"),
    labels: storageBuffer(device, split.labels, "dataset labels"),
    order: storageBuffer(device, identity, "dataset order"),
  };
}

/** Frees a resident split. */
export function destroySplit(split: DeviceSplit): void {
  split.images.destroy();
  split.labels.destroy();
  split.order.destroy();
}

/** Writes a new sample order (a permutation of 0..count-1). */
export function setOrder(device: GPUDevice, split: DeviceSplit, order: Uint32Array): void {
  if (order.length !== split.count) {
    throw new RangeError(`order has ${order.length} entries, split ${split.count}`);
  }
  writeBytes(device, split.order, 0, order);
}
