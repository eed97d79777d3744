// The fusion pass (lib/train/fusion.ts) is an optimisation only: with it off every layer runs its
// own kernels, and LeNet-5's variants give the same logits, loss, gradients and predictions.
import { assert, assertEquals } from "./_assert.ts";
import { testGpu } from "./_gpu.ts";
import { fashionMnist } from "./_data.ts";
import { readFloats } from "../lib/gpu/buffers.ts";
import { lenet5, Model, trainOnBatch } from "../mod.ts";

const B = 16;

for (const [activation, pool] of [["sigmoid", "avg"], ["relu", "max"], ["tanh", "max"]] as const) {
  Deno.test(`LeNet-5 (${activation}, ${pool}) with the fusion pass off: the same numbers, every layer its own kernels`, async () => {
    const gpu = await testGpu();
    const { test } = await fashionMnist();
    const images = Float32Array.from(test.images.subarray(0, B * 784), (v) => v / 255);
    const labels = Array.from(test.labels.subarray(0, B));
    const run = async (fuse: boolean) => {
      using model = new Model(gpu, lenet5({ activation, pool, seed: 7 }), { fuse });
      const loss = await trainOnBatch(model, images, labels);
      const plan = await model.plan(B, "train");
      return {
        loss,
        ops: plan.forward.map((op) => op.name),
        logits: await readFloats(gpu.device, plan.logits),
        grads: await readFloats(gpu.device, model.gradientBuffer),
        classes: (await model.predict(images, B)).classes,
      };
    };
    const on = await run(true), off = await run(false);
    assertEquals(on.ops.length, 5); // 2 convolutions (activation and pooling inside), 3 linears
    assertEquals(off.ops.length, 11); // every layer of the 12 but Flatten
    const worst = (a: Float32Array, b: Float32Array) => {
      const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / scale;
    };
    const diff = { logits: worst(off.logits, on.logits), grads: worst(off.grads, on.grads) };
    console.log(`fusion off vs on: loss ${Math.abs(off.loss - on.loss)}, relative`, diff);
    assert(Math.abs(off.loss - on.loss) < 1e-5 && diff.logits < 1e-5 && diff.grads < 1e-4);
    assertEquals(off.classes, on.classes);
  });
}
