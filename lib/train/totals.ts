/**
 * The running sums a pass keeps on the device (written by `accumulateMetrics`, laid out as
 * `METRIC_TOTALS` says), and the one place that reads them back.
 *
 * @module
 */
import { METRIC_TOTALS } from "../../kernels/metrics.ts";
import { readFloats, storageBuffer } from "../gpu/buffers.ts";

/** The names of the sums, in buffer order. */
export const TOTALS: typeof METRIC_TOTALS = METRIC_TOTALS;

/** The sums, read back, and the ring of recent batch losses (see `accumulateMetrics`). */
export type Totals = Record<(typeof METRIC_TOTALS)[number], number> & { ring: Float32Array };

/** A zeroed totals buffer with room for a ring of `ring` batch losses. */
export function totalsBuffer(device: GPUDevice, label: string, ring = 0): GPUBuffer {
  return storageBuffer(device, new Float32Array(TOTALS.length + ring), label);
}

/** Zeroes the sums of `buffer`. */
export function resetTotals(device: GPUDevice, buffer: GPUBuffer): void {
  device.queue.writeBuffer(buffer, 0, new Float32Array(TOTALS.length));
}

/** Reads the sums and `ring` recent batch losses back (after all submitted work). */
export async function readTotals(device: GPUDevice, buffer: GPUBuffer, ring = 0): Promise<Totals> {
  const values = await readFloats(device, buffer, 0, TOTALS.length + ring);
  const sums = Object.fromEntries(TOTALS.map((name, k) => [name, values[k]]));
  return { ...sums, ring: values.subarray(TOTALS.length) } as Totals;
}
