import { assert, assertEquals } from "./_assert.ts";
import { maxAbsDiff, randomFloats, runKernel } from "./_gpu.ts";
import * as ref from "./_reference.ts";
import {
  pool2dBackward,
  pool2dForward,
  type Pool2dShape,
  type PoolBackwardVariant,
  type PoolKind,
  windowsTileInput,
} from "../kernels/pool.ts";

const cases: ref.PoolDims[] = [
  { B: 3, C: 6, H: 28, W: 28, K: 2, S: 2, P: 0 }, // LeNet pool1
  { B: 2, C: 4, H: 7, W: 9, K: 3, S: 2, P: 1 }, // overlapping windows with padding
  { B: 1, C: 2, H: 5, W: 5, K: 2, S: 1, P: 0 }, // stride 1: every input in up to 4 windows
];

function shapeOf(d: ref.PoolDims): Pool2dShape {
  return {
    batch: d.B,
    channels: d.C,
    height: d.H,
    width: d.W,
    kernel: [d.K, d.K],
    stride: [d.S, d.S],
    padding: [d.P, d.P],
  };
}

/** Every backward variant that applies: gather always, tiled when windows tile the input. */
function variants(s: Pool2dShape): PoolBackwardVariant[] {
  return windowsTileInput(s) ? ["tiled", "gather"] : ["gather"];
}

for (const kind of ["avg", "max"] as PoolKind[]) {
  for (const [n, d] of cases.entries()) {
    Deno.test(`${kind} pooling forward and backward match the CPU reference (case ${n})`, async () => {
      const s = shapeOf(d);
      const x = randomFloats(d.B * d.C * d.H * d.W, 10 + n);
      const { y: yRef, idx } = ref.pool(kind, d, x);
      const dy = randomFloats(yRef.length, 20 + n);
      const fwd = await runKernel(pool2dForward(kind, s), [x, yRef.length, yRef.length]);
      const args = kind === "max" ? [dy, new Uint32Array(fwd[1].buffer), x.length] : [dy, x.length];
      const dxRef = ref.poolBackward(kind, d, x, dy);
      const err: Record<string, number> = { y: maxAbsDiff(fwd[0], yRef) };
      for (const variant of variants(s)) {
        const [dx] = await runKernel(pool2dBackward(kind, s, { variant }), args);
        err[`dx ${variant}`] = maxAbsDiff(dx, dxRef);
      }
      console.log(`${kind} pool case ${n}: max abs difference`, err);
      for (const [k, e] of Object.entries(err)) assert(e < 1e-6, `${k}: ${e}`);
      if (kind === "max") assertEquals(Array.from(new Uint32Array(fwd[1].buffer)), Array.from(idx));
    });
  }
}

Deno.test("max pooling sends the gradient to the first of tied maxima, as PyTorch does", async () => {
  const s = {
    batch: 1,
    channels: 1,
    height: 2,
    width: 2,
    kernel: [2, 2] as const,
    stride: [2, 2] as const,
    padding: [0, 0] as const,
  };
  const [y, idx] = await runKernel(pool2dForward("max", s), [new Float32Array([0, 0, 0, 0]), 1, 1]);
  assertEquals([y[0], new Uint32Array(idx.buffer)[0]], [0, 0]);
});

for (const kind of ["avg", "max"] as PoolKind[]) {
  Deno.test(`${kind} pooling backward gated by a fused sigmoid matches dx · y(1-y), tiled and gathered`, async () => {
    for (const [n, d] of cases.entries()) {
      const s = shapeOf(d);
      const x = randomFloats(d.B * d.C * d.H * d.W, 80 + n, 0, 1); // a sigmoid's output
      const { y: yRef } = ref.pool(kind, d, x);
      const dy = randomFloats(yRef.length, 90 + n);
      const fwd = await runKernel(
        pool2dForward(kind, s),
        kind === "max" ? [x, yRef.length, yRef.length] : [x, yRef.length],
      );
      const want = ref.poolBackward(kind, d, x, dy).map((g, i) => g * x[i] * (1 - x[i]));
      for (const variant of variants(s)) {
        const [dx] = await runKernel(
          pool2dBackward(kind, s, { variant, gate: "sigmoid" }),
          kind === "max" ? [dy, new Uint32Array(fwd[1].buffer), x, x.length] : [dy, x, x.length],
        );
        const err = maxAbsDiff(dx, want);
        assert(err < 1e-6, `case ${n}, ${variant}: ${err}`);
      }
    }
  });
}
