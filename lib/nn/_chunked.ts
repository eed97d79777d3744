// Calls of a kernel that reads one operand through uniform views (kernels/views.ts).
import type { BufferSlice, KernelCall } from "../gpu/kernel_runner.ts";
import type { KernelSpec } from "../../kernels/spec.ts";
import type { ChunkPlan } from "../../kernels/views.ts";

/**
 * One call per chunk of `plan`: `bind` receives the chunk's uniform view of `source` and its
 * slot of `constants` (256 bytes each), and returns the call's buffers in binding order.
 */
export function chunkedCalls(
  kernel: KernelSpec,
  plan: ChunkPlan,
  source: BufferSlice,
  constants: BufferSlice,
  bind: (view: BufferSlice, chunk: BufferSlice) => BufferSlice[],
): KernelCall[] {
  const base = source.offset ?? 0;
  if (base % 256) {
    throw new Error(`a uniform view must start at a 256-byte boundary, got offset ${base}`);
  }
  return plan.chunks.map((chunk, k) => ({
    kernel,
    buffers: bind(
      { buffer: source.buffer, offset: base + chunk.viewOffset * 4, size: plan.viewFloats * 4 },
      { buffer: constants.buffer, offset: (constants.offset ?? 0) + k * 256, size: 16 },
    ),
  }));
}
