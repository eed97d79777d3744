// Calls of a kernel that reads one or two operands through uniform views (kernels/views.ts).
import type { BufferSlice, KernelCall } from "../gpu/kernel_runner.ts";
import type { KernelSpec } from "../../kernels/spec.ts";
import type { ChunkPlan } from "../../kernels/views.ts";

/** One operand read through views: its chunking, its tensor, and the chunks' constants. */
export interface ViewedOperand {
  plan: ChunkPlan;
  source: BufferSlice;
  constants: BufferSlice;
}

/**
 * One call per chunk of `plan`: `bind` receives the chunk's uniform view of `source` and its
 * slot of `constants` (256 bytes each), and returns the call's buffers in binding order.
 */
export function chunkedCalls(
  kernel: KernelSpec,
  plan: ChunkPlan,
  source: BufferSlice,
  constants: BufferSlice,
  bind: (view: BufferSlice, chunk: BufferSlice) => KernelCall["buffers"],
): KernelCall[] {
  return viewedCalls(kernel, [{ plan, source, constants }], (slices) => bind(slices[0], slices[1]));
}

/**
 * One call per chunk of images for operands chunked alike: `bind` receives each operand's view
 * and constants slot, in order (view, chunk, view, chunk, ...).
 */
export function viewedCalls(
  kernel: KernelSpec,
  operands: readonly ViewedOperand[],
  bind: (slices: BufferSlice[]) => KernelCall["buffers"],
): KernelCall[] {
  return operands[0].plan.chunks.map((_, k) => ({
    kernel,
    buffers: bind(operands.flatMap((o) => viewSlices(o, k))),
  }));
}

/**
 * One call per pair of chunks, `a`'s outer and `b`'s inner (so that chunks of `b` along an inner
 * dimension are added in order): `bind` receives a's view and constants, then b's.
 */
export function crossedCalls(
  kernel: KernelSpec,
  a: ViewedOperand,
  b: ViewedOperand,
  bind: (slices: BufferSlice[]) => KernelCall["buffers"],
): KernelCall[] {
  return a.plan.chunks.flatMap((_, ka) =>
    b.plan.chunks.map((_, kb) => ({
      kernel,
      buffers: bind([...viewSlices(a, ka), ...viewSlices(b, kb)]),
    }))
  );
}

/** Chunk `k` of an operand: its uniform view and its slot of constants. */
function viewSlices({ plan, source, constants }: ViewedOperand, k: number): BufferSlice[] {
  if ((source.offset ?? 0) % 256) {
    throw new Error(
      `a uniform view must start at a 256-byte boundary, got offset ${source.offset}`,
    );
  }
  return [
    {
      buffer: source.buffer,
      offset: (source.offset ?? 0) + plan.chunks[k].viewOffset * 4,
      size: plan.viewFloats * 4,
    },
    { buffer: constants.buffer, offset: (constants.offset ?? 0) + k * 256, size: 16 },
  ];
}
