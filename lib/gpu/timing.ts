/**
 * Wall-clock timing of dispatches on the device, for the tuner and the bench. A submit and the
 * wait for it cost a fixed latency (~11 ms on lavapipe, far more than many kernels), so a run is
 * timed as (time of 2R repetitions − time of R) / R, which cancels it; the best of a few trials
 * keeps other load on the machine out.
 *
 * @module
 */
import { type Dispatch, KernelRunner } from "./kernel_runner.ts";

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
  const runner = KernelRunner.for(device);
  const run = async (n: number) => {
    const t = performance.now();
    runner.submit(Array.from({ length: n }, () => dispatches).flat());
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t;
  };
  await run(1);
  let best = Infinity;
  for (let trial = 0; trial < trials; trial++) {
    best = Math.min(best, ((await run(2 * reps)) - (await run(reps))) / reps);
  }
  return Math.max(best, 0);
}
