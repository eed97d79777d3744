/**
 * Timing of dispatches on the device, for the tuner and the bench. Where the device has the
 * `timestamp-query` feature, the device's own clock brackets the pass: no submit or wait latency
 * is counted. Otherwise wall clock: a submit and the wait for it cost a fixed latency (~11 ms on
 * lavapipe, far more than many kernels), so a run is timed as (best time of 2R repetitions − best
 * time of R) / R, which cancels it. Either way the best of a few trials keeps other load out.
 *
 * @module
 */
import { type Dispatch, KernelRunner } from "./kernel_runner.ts";

/** How {@linkcode timeDispatches} measures: the device's timestamps or the wall clock. */
export type TimingClock = "timestamps" | "wall clock";

/**
 * The clock {@linkcode timeDispatches} uses on `device`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "./device.ts";
 * import { timingClock } from "./timing.ts";
 * const { device } = await requestGpu();
 * assert.equal(timingClock(device), device.features.has("timestamp-query") ? "timestamps" : "wall clock");
 * ```
 */
export function timingClock(device: GPUDevice): TimingClock {
  return device.features.has("timestamp-query") ? "timestamps" : "wall clock";
}

/**
 * Milliseconds one run of `dispatches` takes on the device, in one pass.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "./device.ts";
 * import { KernelRunner } from "./kernel_runner.ts";
 * import { timeDispatches } from "./timing.ts";
 * const { device } = await requestGpu();
 * const out = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
 * const kernel = {
 *   name: "fill", workgroupSize: 64, workgroupCount: 16,
 *   bindings: [{ name: "y", type: "array<f32>", access: "read_write" as const }],
 *   body: "  y[i] = f32(i);",
 * };
 * const run = await KernelRunner.for(device).prepare({ kernel, buffers: [out] });
 * assert.ok(await timeDispatches(device, [run], { reps: 2, trials: 1 }) >= 0);
 * out.destroy();
 * ```
 */
export async function timeDispatches(
  device: GPUDevice,
  dispatches: readonly Dispatch[],
  options: { reps?: number; trials?: number } = {},
): Promise<number> {
  const reps = options.reps ?? 5, trials = options.trials ?? 3;
  return timingClock(device) === "timestamps"
    ? await timeWithTimestamps(device, dispatches, reps, trials)
    : await timeWithWallClock(device, dispatches, reps, trials);
}

async function timeWithWallClock(
  device: GPUDevice,
  dispatches: readonly Dispatch[],
  reps: number,
  trials: number,
): Promise<number> {
  const runner = KernelRunner.for(device);
  const run = async (n: number) => {
    const t = performance.now();
    runner.submit(Array.from({ length: n }, () => dispatches).flat());
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t;
  };
  await run(1);
  // The best of each length, then their difference: the best of the differences would be biased
  // low, since a burst of other load in an R run shrinks that trial's difference.
  let once = Infinity, twice = Infinity;
  for (let trial = 0; trial < trials; trial++) {
    twice = Math.min(twice, await run(2 * reps));
    once = Math.min(once, await run(reps));
  }
  return Math.max((twice - once) / reps, 0);
}

/**
 * One query set and its buffers per device, made once and kept with it: never destroyed by hand,
 * since a query set destroyed and then dropped at exit has crashed Deno's wgpu on lavapipe.
 */
const timestampKits = new WeakMap<
  GPUDevice,
  { querySet: GPUQuerySet; resolved: GPUBuffer; staging: GPUBuffer }
>();

function timestampKit(device: GPUDevice) {
  let kit = timestampKits.get(device);
  if (!kit) {
    kit = {
      querySet: device.createQuerySet({ type: "timestamp", count: 2 }),
      resolved: device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      }),
      staging: device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      }),
    };
    timestampKits.set(device, kit);
  }
  return kit;
}

async function timeWithTimestamps(
  device: GPUDevice,
  dispatches: readonly Dispatch[],
  reps: number,
  trials: number,
): Promise<number> {
  const { querySet, resolved, staging } = timestampKit(device);
  const run = async (n: number) => {
    const encoder = device.createCommandEncoder();
    KernelRunner.record(encoder, Array.from({ length: n }, () => dispatches).flat(), {
      timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
    encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, 16);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const [begin, end] = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    // Nanoseconds (the spec's unit); a device may clamp or quantize them, never below zero here.
    return end > begin ? Number(end - begin) / 1e6 / n : 0;
  };
  await run(1);
  let best = Infinity;
  for (let trial = 0; trial < trials; trial++) best = Math.min(best, await run(reps));
  return best;
}
