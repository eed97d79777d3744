/**
 * GPU buffer helpers: creating storage buffers from data, and reading results back.
 *
 * @module
 */

/**
 * Usage of every storage buffer here: bindable as storage or as a uniform view (much cheaper
 * reads on CPU adapters), and copyable both ways for upload and readback. A function, so that
 * importing this module where WebGPU is missing does not throw before `requestGpu` can explain.
 */
export function storageUsage(): number {
  return GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_SRC |
    GPUBufferUsage.COPY_DST;
}

/**
 * A storage buffer of `bytes` (rounded up to 4), filled with `data` when given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFloats, storageBuffer } from "./buffers.ts";
 * import { requestGpu } from "./device.ts";
 * const { device } = await requestGpu();
 * const weights = storageBuffer(device, new Float32Array([1, 2, 3, 4]), "w");
 * assert.equal(weights.size, 256); // rounded up for aligned uniform views
 * assert.deepEqual([...await readFloats(device, weights, 0, 4)], [1, 2, 3, 4]);
 * weights.destroy();
 * ```
 */
export function storageBuffer(
  device: GPUDevice,
  init: number | ArrayBufferView,
  label?: string,
  usage: number = storageUsage(),
): GPUBuffer {
  const bytes = typeof init === "number" ? init : init.byteLength;
  // Rounded to 256 bytes, so that an aligned uniform view (array<vec4f>) of the tail fits.
  const size = Math.max(256, Math.ceil(bytes / 256) * 256);
  const buffer = device.createBuffer({ size, usage, label });
  if (typeof init !== "number" && init.byteLength > 0) writeBytes(device, buffer, 0, init);
  return buffer;
}

/** A uniform buffer holding `data` (constants written once). */
export function constantBuffer(
  device: GPUDevice,
  data: ArrayBufferView,
  label?: string,
): GPUBuffer {
  const buffer = device.createBuffer({
    size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    label,
  });
  writeBytes(device, buffer, 0, data);
  return buffer;
}

/** A 16-byte uniform buffer for per-step scalars. */
export function uniformBuffer(device: GPUDevice, label?: string): GPUBuffer {
  return device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    label,
  });
}

/**
 * Writes `data` at `offset` bytes; a length that is not a multiple of 4 is padded with zeros
 * (WebGPU copies whole words).
 */
export function writeBytes(
  device: GPUDevice,
  buffer: GPUBuffer,
  offset: number,
  data: ArrayBufferView,
): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length % 4 === 0) {
    device.queue.writeBuffer(buffer, offset, bytes as Uint8Array<ArrayBuffer>);
    return;
  }
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  device.queue.writeBuffer(buffer, offset, padded);
}

/**
 * Copies `size` bytes at `offset` of `buffer` to the CPU (after all submitted work).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBytes, storageBuffer } from "./buffers.ts";
 * import { requestGpu } from "./device.ts";
 * const { device } = await requestGpu();
 * const buffer = storageBuffer(device, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
 * assert.deepEqual([...new Uint8Array(await readBytes(device, buffer, 4, 4))], [5, 6, 7, 8]);
 * buffer.destroy();
 * ```
 */
export function readBytes(
  device: GPUDevice,
  buffer: GPUBuffer,
  offset = 0,
  size: number = buffer.size - offset,
): Promise<ArrayBuffer> {
  return startRead(device, buffer, offset, size).bytes;
}

/** A copy on its way back to the CPU (see {@linkcode startRead}). */
export interface PendingRead {
  /** The bytes, once the device has made the copy. */
  readonly bytes: Promise<ArrayBuffer>;
  /** Gives the copy up (`bytes` then rejects, and nothing is reported unhandled). */
  cancel(): void;
}

/**
 * Copies `size` bytes at `offset` of `buffer` as they stand after all work submitted so far, and
 * starts bringing them back without waiting: work submitted later runs on meanwhile. Awaiting
 * `bytes` waits for the copy only, so a caller that keeps submitting keeps the device busy, where
 * awaiting {@linkcode readBytes} after the latest work lets the queue run dry (and Deno notices a
 * finished copy ~12 ms late).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startRead, storageBuffer } from "./buffers.ts";
 * import { requestGpu } from "./device.ts";
 * const { device } = await requestGpu();
 * const buffer = storageBuffer(device, Uint8Array.of(1, 2, 3, 4));
 * const before = startRead(device, buffer, 0, 4);
 * device.queue.writeBuffer(buffer, 0, Uint8Array.of(9, 9, 9, 9));
 * assert.deepEqual([...new Uint8Array(await before.bytes)], [1, 2, 3, 4]);
 * buffer.destroy();
 * ```
 */
export function startRead(
  device: GPUDevice,
  buffer: GPUBuffer,
  offset: number,
  size: number,
): PendingRead {
  const staging = device.createBuffer({
    size,
    usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
  device.queue.submit([encoder.finish()]);
  const bytes = staging.mapAsync(GPUMapMode.READ).then(() => {
    const copy = staging.getMappedRange().slice(0);
    staging.unmap();
    return copy;
  }).finally(() => staging.destroy());
  // Marked handled here: a cancelled or failed read rejects only for whoever awaits it.
  bytes.catch(() => {});
  return { bytes, cancel: () => staging.destroy() };
}

/**
 * Reads `count` floats at element `offset` of a buffer back to the CPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFloats, storageBuffer } from "./buffers.ts";
 * import { requestGpu } from "./device.ts";
 * const { device } = await requestGpu();
 * const buffer = storageBuffer(device, new Float32Array([0.5, 1.5, 2.5]));
 * assert.deepEqual([...await readFloats(device, buffer, 1, 2)], [1.5, 2.5]);
 * buffer.destroy();
 * ```
 */
export async function readFloats(
  device: GPUDevice,
  buffer: GPUBuffer,
  offset = 0,
  count: number = buffer.size / 4 - offset,
): Promise<Float32Array> {
  return new Float32Array(await readBytes(device, buffer, offset * 4, count * 4));
}

/** {@linkcode readBytes} as uint32; `offset` and `count` in elements. */
export async function readUints(
  device: GPUDevice,
  buffer: GPUBuffer,
  offset = 0,
  count: number = buffer.size / 4 - offset,
): Promise<Uint32Array> {
  return new Uint32Array(await readBytes(device, buffer, offset * 4, count * 4));
}
