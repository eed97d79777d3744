// The one way a layer binds a chosen candidate: its operands (the kernel's leading bindings) are
// each a storage tensor, or a uniform view and its chunk's constants (kernels/views.ts) when the
// candidate reads it through views; the rest of the bindings follow.
import type { BufferSlice, KernelCall } from "../gpu/kernel_runner.ts";
import type { KernelSpec } from "../../kernels/spec.ts";
import { chunkConstants } from "../../kernels/views.ts";
import type { Candidate, ViewUse } from "./choose.ts";
import type { Workspace } from "./layer.ts";

/** An operand read through views: its chunking, its tensor, and the chunks' constants. */
interface ViewedOperand {
  plan: ViewUse["plan"];
  source: BufferSlice;
  constants: BufferSlice;
}

/** The workspace constants of a candidate's views, named `<op>.<operand>`. */
export function viewConstants(op: string, candidate: Pick<Candidate<unknown>, "views">): Workspace {
  return Object.fromEntries(
    candidate.views.map((v) => [`${op}.${v.operand}`, chunkConstants(v.plan)]),
  );
}

/**
 * The calls of `kernel` for a candidate: `operands` (name → tensor, in binding order) bound as
 * storage tensors or, where the candidate views them, as a view and its chunk's constants (from
 * `work`, named as {@linkcode viewConstants} names them), then `rest`. Viewed operands go one
 * call per chunk, chunked alike; with `crossed`, one call per pair of the two operands' chunks
 * (the first's outer, so that the second's chunks along an inner dimension add in order).
 */
export function candidateCalls(
  kernel: KernelSpec,
  candidate: Pick<Candidate<unknown>, "views" | "variant">,
  op: string,
  operands: Readonly<Record<string, BufferSlice>>,
  work: Readonly<Record<string, BufferSlice>>,
  rest: readonly BufferSlice[],
  crossed = false,
): KernelCall[] {
  const viewed = new Map<string, ViewedOperand>();
  for (const { operand, plan } of candidate.views) {
    const constants = work[`${op}.${operand}`];
    if (!constants) throw new Error(`${op}: no view constants for ${candidate.variant}`);
    viewed.set(operand, { plan, source: operands[operand], constants });
  }
  const bind = (chunk: (o: ViewedOperand) => number) => [
    ...Object.entries(operands).flatMap(([name, slice]) => {
      const v = viewed.get(name);
      return v ? viewSlices(v, chunk(v)) : [slice];
    }),
    ...rest,
  ];
  const [first, second] = [...viewed.values()];
  if (!first) return [{ kernel, buffers: bind(() => 0) }];
  if (crossed && second) {
    return first.plan.chunks.flatMap((_, ka) =>
      second.plan.chunks.map((_, kb) => ({
        kernel,
        buffers: bind((o) => (o === first ? ka : kb)),
      }))
    );
  }
  return first.plan.chunks.map((_, k) => ({ kernel, buffers: bind(() => k) }));
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
