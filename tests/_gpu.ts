// Runs one kernel on the test device with given inputs and reads every writable binding back.
import { type Gpu, requestGpu } from "../lib/gpu/device.ts";
import { readBytes, storageBuffer, writeBytes } from "../lib/gpu/buffers.ts";
import { KernelRunner } from "../lib/gpu/kernel_runner.ts";
import type { KernelSpec } from "../kernels/spec.ts";
import { Random } from "../lib/random.ts";

let shared: Promise<Gpu> | undefined;
/** One device per test module. */
export function testGpu(): Promise<Gpu> {
  return shared ??= requestGpu();
}

/** Input data, or the element count of an output buffer. */
export type KernelArg = Float32Array | Uint32Array | number;

/** Runs `kernel` once; returns every read_write binding (as many elements as given), in order. */
export async function runKernel(kernel: KernelSpec, args: KernelArg[]): Promise<Float32Array[]> {
  const { device } = await testGpu();
  const buffers = kernel.bindings.map((b, n) => {
    const arg = args[n];
    if (b.access === "uniform") {
      const data = arg as ArrayBufferView;
      const u = device.createBuffer({
        size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      writeBytes(device, u, 0, data);
      return u;
    }
    return storageBuffer(device, typeof arg === "number" ? arg * 4 : arg);
  });
  const runner = KernelRunner.for(device);
  runner.submit([await runner.prepare({ kernel, buffers })]);
  const out: Float32Array[] = [];
  for (const [n, b] of kernel.bindings.entries()) {
    if (b.access !== "read_write") continue;
    const arg = args[n];
    const count = typeof arg === "number" ? arg : arg.length;
    out.push(new Float32Array(await readBytes(device, buffers[n], 0, count * 4)));
  }
  buffers.forEach((b) => b.destroy());
  return out;
}

/** `n` uniform floats in [lo, hi) from `seed`. */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
}

/** Largest |a - b| over the first `n` elements (all of b by default). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, n = b.length): number {
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Largest |x|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
