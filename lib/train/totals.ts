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

/** The sums, read back. */
export type Totals = Record<(typeof METRIC_TOTALS)[number], number>;

/** A zeroed totals buffer. */
export function totalsBuffer(device: GPUDevice, label: string): GPUBuffer {
  return storageBuffer(device, new Float32Array(TOTALS.length), label);
}

/** Zeroes `buffer`. */
export function resetTotals(device: GPUDevice, buffer: GPUBuffer): void {
  device.queue.writeBuffer(buffer, 0, new Float32Array(TOTALS.length));
}

/** Reads the sums back (after all submitted work). */
export async function readTotals(device: GPUDevice, buffer: GPUBuffer): Promise<Totals> {
  const values = await readFloats(device, buffer, 0, TOTALS.length);
  return Object.fromEntries(TOTALS.map((name, k) => [name, values[k]])) as Totals;
}
