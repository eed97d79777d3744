// NaN as PyTorch has it: relu(NaN) is NaN, max pooling propagates it (with its index), and no
// finite number is ever reported from NaN (a loss, logits, an accuracy).
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { runKernel, testGpu } from "./_gpu.ts";
import { fashionMnist, head } from "./_data.ts";
import { activationForward } from "../kernels/activation.ts";
import { pool2dForward } from "../kernels/pool.ts";
import { Adam, evaluate, lenet5, Model, NonFiniteError, train, trainOnBatch } from "../mod.ts";

Deno.test("relu keeps NaN, and max pooling takes it with its index, as PyTorch does", async () => {
  const x = Float32Array.from([NaN, -1, 2, -0.5, 0, NaN, 3, -Infinity]);
  const [y] = await runKernel(activationForward("relu", x.length), [x, x.length]);
  assertEquals([...y].map((v) => (Number.isNaN(v) ? "NaN" : v)), ["NaN", 0, 2, 0, 0, "NaN", 3, 0]);
  // One 2×4 plane, 2×2 windows: [1, NaN | 5, 2] over [3, 4 | NaN, 7].
  const s = {
    batch: 1,
    channels: 1,
    height: 2,
    width: 4,
    kernel: [2, 2],
    stride: [2, 2],
    padding: [0, 0],
  } as const;
  const plane = Float32Array.from([1, NaN, 5, 2, 3, 4, NaN, 7]);
  const [pooled, idx] = await runKernel(pool2dForward("max", s), [plane, 2, new Uint32Array(2)]);
  assert(Number.isNaN(pooled[0]) && Number.isNaN(pooled[1]), `${[...pooled]}`);
  assertEquals([...new Uint32Array(idx.buffer)], [1, 6]);
});

for (const [activation, pool] of [["relu", "max"], ["sigmoid", "avg"]] as const) {
  Deno.test(`${activation} + ${pool}: a NaN image gives NaN logits, a NaN batch a NaN loss, and training stops`, async () => {
    const gpu = await testGpu();
    using model = new Model(gpu, lenet5({ activation, pool }));
    const nan = new Float32Array(2 * 28 * 28).fill(NaN);
    const { logits } = await model.predict(nan, 2);
    assert(logits.every(Number.isNaN), `finite logits from NaN: ${logits.slice(0, 10)}`);

    const optimizer = new Adam();
    const loss = await trainOnBatch(model, nan, [0, 1], optimizer);
    optimizer.dispose();
    assert(Number.isNaN(loss), `a finite loss from NaN images: ${loss}`);
    const weights = await model.stateDict();
    assert(weights["0.weight"].data.every(Number.isNaN));

    // The weights are NaN now: evaluation reports no accuracy, and training stops at once.
    const data = await fashionMnist();
    const test = head(data.test, 64);
    const result = await evaluate(model, test);
    assert(Number.isNaN(result.loss) && Number.isNaN(result.accuracy), JSON.stringify(result));
    await assertRejects(
      () => train(model, { train: head(data.train, 64), test }, { epochs: 1, batchSize: 32 }),
      NonFiniteError,
      "at step 1",
    );
  });
}
