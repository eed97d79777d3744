/**
 * The running sums a pass keeps on the device (written by `accumulateMetrics`, laid out as
 * `METRIC_TOTALS` says), and the one place that reads them back.
 *
 * @module
 */
import { METRIC_TOTALS } from "../../kernels/metrics.ts";
import { type PendingRead, readFloats, startRead, storageBuffer } from "../gpu/buffers.ts";

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
  return totalsOf(await readFloats(device, buffer, 0, TOTALS.length + ring));
}

/** Totals copied in queue order and on their way back (see {@linkcode snapshotTotals}). */
export interface TotalsSnapshot {
  /** The totals as they stood when the copy was taken. */
  readonly totals: Promise<Totals>;
  /** Gives the copy up. */
  cancel(): void;
}

/**
 * {@linkcode readTotals} without the wait: the sums and `ring` losses as they stand after the work
 * submitted so far, brought back while later work runs (`startRead`).
 */
export function snapshotTotals(device: GPUDevice, buffer: GPUBuffer, ring = 0): TotalsSnapshot {
  const read: PendingRead = startRead(device, buffer, 0, (TOTALS.length + ring) * 4);
  const totals = read.bytes.then((bytes) => totalsOf(new Float32Array(bytes)));
  totals.catch(() => {});
  return { totals, cancel: read.cancel };
}

function totalsOf(values: Float32Array): Totals {
  const sums = Object.fromEntries(TOTALS.map((name, k) => [name, values[k]]));
  return { ...sums, ring: values.subarray(TOTALS.length) } as Totals;
}
