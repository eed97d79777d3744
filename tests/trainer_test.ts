import { assert, assertEquals } from "./_assert.ts";
import { testGpu } from "./_gpu.ts";
import { fashionMnist, head } from "./_data.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { Model } from "../lib/train/model.ts";
import { type EpochMetrics, type StepEvent, train } from "../lib/train/trainer.ts";
import { evaluate } from "../lib/train/evaluator.ts";
import { Adam } from "../lib/train/optimizer.ts";
import { requestGpu } from "../lib/gpu/device.ts";
import { KernelRunner } from "../lib/gpu/kernel_runner.ts";

async function shortRun(seed: number, epochs = 2) {
  const ds = await fashionMnist();
  const model = new Model(await testGpu(), lenet5({ activation: "relu", pool: "max", seed }));
  const steps: StepEvent[] = [];
  const history = await train(model, { train: head(ds.train, 4096), test: head(ds.test, 2000) }, {
    epochs,
    seed,
    batchSize: 64,
    logEvery: 16,
    optimizer: new Adam({ lr: 2e-3 }),
    onStep: (e) => void steps.push(e),
  });
  return { model, history, steps };
}

const withoutTimes = (m: EpochMetrics) => {
  const { train_seconds: _a, eval_seconds: _b, images_per_second: _c, ...rest } = m;
  return rest;
};

Deno.test("a short run on real Fashion-MNIST images learns far above chance, and repeats exactly", async () => {
  const a = await shortRun(5);
  const last = a.history.epochs.at(-1)!;
  console.log(
    `4096 images × 2 epochs: test accuracy ${last.test_accuracy}, loss ${last.test_loss}`,
  );
  assert(last.test_accuracy > 0.6, `test accuracy ${last.test_accuracy} (chance is 0.1)`);
  assert(last.train_loss < a.history.epochs[0].train_loss);
  assertEquals(a.steps.length, 128);
  assertEquals(a.steps.filter((s) => s.loss !== undefined).length, 8);
  assertEquals(a.history.losses.length, 8);
  assertEquals(a.steps.at(-1)!.images, 4096);
  assert(a.history.losses.every((p) => Number.isFinite(p.loss)));
  const b = await shortRun(5);
  assertEquals(b.history.epochs.map(withoutTimes), a.history.epochs.map(withoutTimes));
  assertEquals(b.history.losses, a.history.losses);
  const again = await evaluate(a.model, head((await fashionMnist()).test, 2000));
  assertEquals(again.accuracy, last.test_accuracy);
});

Deno.test("an AbortSignal stops training after the current step", async () => {
  const ds = await fashionMnist();
  const model = new Model(await testGpu(), lenet5());
  const controller = new AbortController();
  const history = await train(model, { train: head(ds.train, 2048) }, {
    epochs: 3,
    signal: controller.signal,
    onStep: (e) => {
      if (e.step === 3) controller.abort();
    },
  });
  assert(history.stopped);
  assertEquals(history.epochs.length, 0);
});

Deno.test("train rejects bad options with a clear error", async () => {
  const ds = await fashionMnist();
  const model = new Model(await testGpu(), lenet5());
  const err = await train(model, { train: head(ds.train, 10) }, { batchSize: 0 }).catch((e) => e);
  assert(
    err instanceof RangeError && /batchSize must be a positive integer/.test(err.message),
    String(err),
  );
});

Deno.test("every pipeline of the epoch's evaluation is compiled before the first step", async () => {
  const ds = await fashionMnist();
  // A device of its own: its pipeline cache holds only what this run compiled.
  const gpu = await requestGpu();
  using model = new Model(gpu, lenet5({ activation: "relu", pool: "max" }));
  const runner = KernelRunner.for(gpu.device);
  let atFirstStep = -1;
  await train(model, {
    train: head(ds.train, 640),
    test: head(ds.test, 300),
    validation: head(ds.train, 200),
  }, {
    epochs: 1,
    batchSize: 128,
    onStep: (e) => void (e.step === 1 && (atFirstStep = runner.cachedPipelines)),
  });
  assert(atFirstStep > 0);
  // Evaluation's plans (the test's 300 images in two batches of 150, the validation's 200 in one)
  // were ready.
  assertEquals(runner.cachedPipelines, atFirstStep);
  gpu.device.destroy();
});

Deno.test("an evaluation evens out its batches: one plan for 2,000 images, the same results", async () => {
  const ds = await fashionMnist();
  // A device of its own: its pipeline cache holds only what this test compiled.
  const gpu = await requestGpu();
  using model = new Model(gpu, lenet5({ activation: "relu", pool: "max", seed: 3 }));
  const runner = KernelRunner.for(gpu.device);
  const split = head(ds.test, 2000);
  const even = await evaluate(model, split, { batchSize: 256, predictions: true });
  const compiled = runner.cachedPipelines;
  // 8 batches of 250 (not 7 of 256 and one of 208): one batch of 250 compiles nothing new.
  await evaluate(model, head(ds.test, 250), { batchSize: 250 });
  assertEquals(runner.cachedPipelines, compiled);
  const whole = await evaluate(model, split, { batchSize: 2000, predictions: true });
  assertEquals(even.accuracy, whole.accuracy);
  assertEquals(even.predictions, whole.predictions);
  // The mean loss is a float32 sum, added up in another order: equal to rounding.
  assert(Math.abs(even.loss - whole.loss) < 1e-5 * whole.loss, `${even.loss} vs ${whole.loss}`);
  gpu.device.destroy();
});
