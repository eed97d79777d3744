// Finite-difference check of the whole LeNet-5 loss: central differences of the device's
// forward pass against the device's backward pass, at random coordinates of every parameter.
import { assert } from "./_assert.ts";
import { randomFloats, testGpu } from "./_gpu.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { Model } from "../lib/train/model.ts";
import { trainOnBatch } from "../lib/train/trainer.ts";
import { readFloats, writeBytes } from "../lib/gpu/buffers.ts";
import { Random } from "../lib/random.ts";

Deno.test("LeNet-5 gradients agree with central finite differences of the loss", async () => {
  const model = new Model(await testGpu(), lenet5({ seed: 3 }));
  const device = model.gpu.device;
  const images = randomFloats(4 * 784, 7, 0, 1);
  const labels = [3, 7, 0, 9];
  await trainOnBatch(model, images, labels);
  const grads = await readFloats(device, model.gradientBuffer);
  for (const p of model.parameters) {
    const g = grads.subarray(p.offset, p.offset + p.shape.reduce((a, b) => a * b, 1));
    assert(g.some((v) => Math.abs(v) > 1e-6), `${p.name}: the gradient is all zero`);
  }
  const params = await readFloats(device, model.parameterBuffer);
  const rng = new Random(11);
  // The loss is float32 (ulp ≈ 2.4e-7 near 2.3): differences over 2·eps carry ≈ 5e-6 of noise.
  const eps = 5e-2;
  let worst = 0;
  for (const p of model.parameters) {
    const count = p.shape.reduce((a, b) => a * b, 1);
    for (let n = 0; n < 4; n++) {
      const at = p.offset + rng.int(count);
      const lossAt = async (v: number) => {
        writeBytes(device, model.parameterBuffer, at * 4, Float32Array.of(v));
        return await trainOnBatch(model, images, labels);
      };
      const fd = (await lossAt(params[at] + eps) - await lossAt(params[at] - eps)) / (2 * eps);
      writeBytes(device, model.parameterBuffer, at * 4, Float32Array.of(params[at]));
      const err = Math.abs(fd - grads[at]) / (2e-3 + Math.abs(grads[at]));
      worst = Math.max(worst, err);
      assert(
        err < 2e-2,
        `${p.name}[${at - p.offset}]: finite difference ${fd}, backward ${grads[at]}`,
      );
    }
  }
  console.log(
    `finite differences vs backward: worst relative error ${
      worst.toExponential(2)
    } over 40 coordinates`,
  );
});
