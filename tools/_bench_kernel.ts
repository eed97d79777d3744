// Times one kernel by recording it `reps` times into one pass (no per-dispatch sync latency).
import type { Gpu } from "../lib/device.ts";
import { storageBuffer } from "../lib/buffers.ts";
import { KernelRunner } from "../lib/kernel_runner.ts";
import type { KernelSpec } from "../kernels/spec.ts";

/** Milliseconds per dispatch of `kernel`, on buffers of `sizes` floats (uniforms: 16 bytes). */
export async function timeKernel(
  gpu: Gpu,
  kernel: KernelSpec,
  sizes: number[],
  reps = 20,
): Promise<number> {
  const device = gpu.device;
  const buffers = kernel.bindings.map((b, n) =>
    b.access === "uniform"
      ? device.createBuffer({
        size: 65536,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      })
      : storageBuffer(device, sizes[n] * 4)
  );
  const runner = KernelRunner.for(device);
  const d = await runner.prepare({ kernel, buffers });
  runner.submit([d]);
  await device.queue.onSubmittedWorkDone();
  const best: number[] = [];
  for (let trial = 0; trial < 3; trial++) {
    const t = performance.now();
    runner.submit(Array(reps).fill(d));
    await device.queue.onSubmittedWorkDone();
    best.push((performance.now() - t) / reps);
  }
  buffers.forEach((b) => b.destroy());
  return Math.min(...best);
}
