// The library guards its invariants with typed errors instead of panics, hangs or wrong numbers.
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { fashionMnist, head } from "./_data.ts";
import { requestGpu } from "../lib/gpu/device.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { Model } from "../lib/train/model.ts";
import { Adam } from "../lib/train/optimizer.ts";
import { train, trainOnBatch, type TrainOptions } from "../lib/train/trainer.ts";
import { evaluate } from "../lib/train/evaluator.ts";
import { DeviceLimitError, GpuFaultError, ModelBusyError, NonFiniteError } from "../errors.ts";
import { splitFromArrays } from "../data/dataset.ts";

const gpu = requestGpu();
const empty = splitFromArrays(new Uint8Array(0), new Uint8Array(0), 28, 28);

Deno.test("empty inputs are RangeErrors, not panics inside Deno", async () => {
  using model = new Model(await gpu, lenet5());
  await assertRejects(() => train(model, { train: empty }), /training split: the split is empty/);
  await assertRejects(() => evaluate(model, empty), /evaluate: the split is empty/);
  await assertRejects(() => model.predict(new Float32Array(0), 0), /count must be a positive/);
  await assertRejects(() => trainOnBatch(model, new Float32Array(0), []), /the batch is empty/);
});

Deno.test("labels outside the model's classes are refused", async () => {
  using model = new Model(await gpu, lenet5());
  const images = new Float32Array(2 * 28 * 28);
  for (const bad of [99, -1, 1.5]) {
    await assertRejects(
      () => trainOnBatch(model, images, [0, bad]),
      new RegExp(`label ${bad} at index 1 is not a class of the model \\(0\\.\\.9\\)`),
    );
  }
  const split = splitFromArrays(new Uint8Array(28 * 28), Uint8Array.of(12), 28, 28);
  await assertRejects(() => train(model, { train: split }), /label 12 at index 0/);
});

Deno.test("a model runs one thing at a time", async () => {
  const data = await fashionMnist();
  using model = new Model(await gpu, lenet5());
  const first = train(model, { train: head(data.train, 256) }, { epochs: 1, batchSize: 64 });
  const second = await train(model, { train: head(data.train, 256) }).catch((e) => e);
  assert(second instanceof ModelBusyError, String(second));
  assert(/busy with train/.test(second.message));
  await assertRejects(() => evaluate(model, head(data.test, 64)), ModelBusyError);
  assertEquals((await first).epochs.length, 1);
  await evaluate(model, head(data.test, 64)); // free again
});

/** What a run on 2,048 images in batches of 64 with a learning rate of 1e30 throws. */
async function divergedRun(options: TrainOptions): Promise<NonFiniteError> {
  const data = await fashionMnist();
  using model = new Model(await gpu, lenet5({ activation: "relu", pool: "max" }));
  const optimizer = new Adam({ lr: 1e30 });
  const err = await train(model, { train: head(data.train, 2048) }, {
    ...options,
    batchSize: 64,
    optimizer,
  }).catch((e) => e);
  optimizer.dispose();
  assert(err instanceof NonFiniteError, String(err));
  return err;
}

Deno.test("a NaN training loss stops training with the step named", async () => {
  const err = await divergedRun({ epochs: 3 });
  assert(err.step !== undefined && err.step >= 2 && err.step <= 32, `step ${err.step}`);
  assert(
    new RegExp(`loss became (NaN|-?Infinity) at step ${err.step} \\(epoch 1\\)`).test(err.message),
    err.message,
  );
});

Deno.test("a NaN loss is named to the same step however often the device is checked", async () => {
  const steps: number[] = [];
  // Checked every step, and every 7 (one check point behind, the copies read late): the ring of
  // losses names the first non-finite step either way, with no step skipped or checked twice.
  for (const syncEvery of [1, 7]) {
    steps.push((await divergedRun({ epochs: 1, syncEvery, logEvery: 1000 })).step!);
  }
  assert(steps[0] >= 2, `step ${steps[0]}`);
  assertEquals(steps[1], steps[0]);
});

Deno.test("a batch beyond the adapter's buffer limit is refused before anything is allocated", async () => {
  using model = new Model(await gpu, lenet5());
  const max = model.maxBatchSize("train");
  const err = await model.plan(max + 1, "train").catch((e) => e);
  assert(err instanceof DeviceLimitError, String(err));
  assertEquals(err.maxBatch, max);
  assert(
    /the output of 0 Conv2d.* at most \d+ MiB per buffer: use a batch of at most/.test(err.message),
    err.message,
  );
});

Deno.test("a WebGPU error during a run fails the run instead of reporting its numbers", async () => {
  const own = await requestGpu();
  using model = new Model(own, lenet5());
  const data = await fashionMnist();
  // Any validation error on the device, here an invalid buffer, poisons the run.
  own.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE });
  await assertRejects(() => evaluate(model, head(data.test, 64)), GpuFaultError);
});
