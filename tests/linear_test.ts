import { assert, assertEquals } from "./_assert.ts";
import { maxAbs, maxAbsDiff, randomFloats, runKernel, testGpu } from "./_gpu.ts";
import { constantBuffer, readFloats, storageBuffer } from "../lib/gpu/buffers.ts";
import { type KernelCall, KernelRunner } from "../lib/gpu/kernel_runner.ts";
import { chunkConstants } from "../kernels/views.ts";
import * as ref from "./_reference.ts";
import { matmul, matmulUniformB, matmulUniformPlan, matmulViewPlans } from "../kernels/linear.ts";
import { candidateCalls } from "../lib/nn/_chunked.ts";
import { MAX_MATMUL_TILE } from "../lib/nn/matmul_candidates.ts";
import { sumRows } from "../kernels/reduce.ts";

const shapes = [
  [256, 120, 400], // LeNet fc1
  [7, 10, 84], // a partial batch through fc3
  [13, 5, 3],
  [120, 400, 256], // fc1 weight gradient
  [1, 1, 1],
];

for (const [M, N, K] of shapes) {
  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
    Deno.test(`matmul ${M}×${N}×${K} transA=${transA} transB=${transB} matches the CPU reference`, async () => {
      const a = randomFloats(M * K, M + K);
      const bOffset = 3, biasOffset = bOffset + K * N, cOffset = 5;
      const b = randomFloats(biasOffset + N, N + 1);
      const B = b.subarray(bOffset, bOffset + K * N);
      const [c] = await runKernel(
        matmul({ M, N, K, transA, transB, bOffset, biasOffset, cOffset }),
        [a, b, cOffset + M * N],
      );
      const cRef = ref.matmul(a, B, M, N, K, transA, transB).map((v, i) =>
        v + b[biasOffset + (i % N)]
      );
      const err = maxAbsDiff(c.subarray(cOffset), cRef) / maxAbs(cRef);
      if (M * N * K > 1000) console.log(`matmul ${M}×${N}×${K}: max relative difference ${err}`);
      assert(err < 1e-6, `relative difference ${err}`);
      assert(c.subarray(0, cOffset).every((v) => v === 0), "wrote before cOffset");
    });
  }
}

Deno.test("sumRows adds rows into the output at its offset", async () => {
  const x = randomFloats(256 * 84, 5);
  const [out] = await runKernel(sumRows(256, 84, 10), [x, 94]);
  const expected = Array.from({ length: 84 }, (_, c) => {
    let s = 0;
    for (let r = 0; r < 256; r++) s += x[r * 84 + c];
    return s;
  });
  assert(maxAbsDiff(out.subarray(10), expected) < 1e-4);
  assert(out.subarray(0, 10).every((v) => v === 0));
});

// B read through uniform views, split small enough to force several chunks (the inner-split
// ones accumulate into C across dispatches).
for (const [M, N, K] of [[37, 23, 50], [8, 10, 84], [256, 120, 400]]) {
  for (
    const [transA, transB, withBias] of [[false, true, true], [false, false, false], [
      true,
      false,
      false,
    ], [true, true, true]]
  ) {
    Deno.test(`matmul with uniform B ${M}×${N}×${K} transA=${transA} transB=${transB} matches the reference`, async () => {
      const { device } = await testGpu();
      const shape = {
        M,
        N,
        K,
        transA,
        transB,
        biasOffset: withBias ? N * K : undefined,
        cOffset: 64,
      };
      const plan = matmulUniformPlan(shape, M * N * K > 1e6 ? 16384 : 320)!;
      assert(plan.chunks.length > 1 || M * N * K > 1e6, "the small cases must split");
      const a = randomFloats(M * K, 3 * M + K), b = randomFloats(N * K + N, N + 2);
      const aBuf = storageBuffer(device, a), bBuf = storageBuffer(device, b);
      const cBuf = storageBuffer(device, (64 + M * N) * 4);
      const constants = constantBuffer(device, chunkConstants(plan));
      const want = ref.matmul(a, b, M, N, K, transA, transB).map((v, i) =>
        v + (withBias ? b[N * K + (i % N)] : 0)
      );
      const check = async (what: string, calls: KernelCall[]) => {
        const runner = KernelRunner.for(device);
        runner.submit(await runner.prepareAll(calls));
        const c = await readFloats(device, cBuf, 0, 64 + M * N);
        const err = maxAbsDiff(c.subarray(64), want) / maxAbs(want);
        console.log(`${what} ${M}×${N}×${K}: max relative difference ${err}`);
        assert(err < 1e-6, String(err));
        assert(c.subarray(0, 64).every((v) => v === 0), "wrote before cOffset");
      };
      // The chooser's tiles (one row and the widest, 2×16, 4×8, 8×8, 4×16), a narrow one with a
      // guarded edge, and one whose rows do not divide M.
      const tiles = [[1, MAX_MATMUL_TILE], [2, 16], [4, 8], [8, 8], [4, 16], [1, 7], [3, 5]];
      for (const [tileM, tileN] of tiles) {
        const kernel = matmulUniformB({ ...shape, tileM, tileN }, plan);
        const calls = plan.chunks.map((c, k) => ({
          kernel,
          buffers: [
            aBuf,
            { buffer: bBuf, offset: c.viewOffset * 4, size: plan.viewFloats * 4 },
            { buffer: constants, offset: k * 256, size: 16 },
            ...(withBias ? [bBuf] : []),
            cBuf,
          ],
        }));
        await check(`uniform-B matmul (${calls.length} chunks, tile ${tileM}x${tileN})`, calls);
      }
      // A through views too: by rows of C (crossed with B's chunks), or along K beside B.
      const both = matmulViewPlans(shape, M * N * K > 1e6 ? 16384 : 320);
      if (transA && transB) {
        assertEquals(both, null);
        return;
      }
      assert(both && (M * N * K > 1e6 || both.aPlan.chunks.length > 1), "A must split too");
      const aConstants = constantBuffer(device, chunkConstants(both.aPlan));
      const bConstants = constantBuffer(device, chunkConstants(both.plan));
      // Bound as the layer binds a candidate that views A and B.
      const candidate = {
        variant: "uniform A, B",
        views: [{ operand: "a", plan: both.aPlan }, { operand: "b", plan: both.plan }],
      };
      const work = { "t.a": { buffer: aConstants }, "t.b": { buffer: bConstants } };
      for (const [tileM, tileN] of tiles) {
        const kernel = matmulUniformB({ ...shape, tileM, tileN }, both.plan, both.aPlan);
        const rest = [...(withBias ? [{ buffer: bBuf }] : []), { buffer: cBuf }];
        const operands = { a: { buffer: aBuf }, b: { buffer: bBuf } };
        const calls = candidateCalls(kernel, candidate, "t", operands, work, rest, !transA);
        await check(`uniform-A, B matmul (${calls.length} calls, tile ${tileM}x${tileN})`, calls);
      }
    });
  }
}
