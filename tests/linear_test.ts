import { assert } from "./_assert.ts";
import { maxAbs, maxAbsDiff, randomFloats, runKernel } from "./_gpu.ts";
import * as ref from "./_reference.ts";
import { matmul } from "../kernels/linear.ts";
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
