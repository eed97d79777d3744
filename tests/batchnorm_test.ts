// BatchNorm beyond the parity fixture: its state_dict (names and order as PyTorch's), the running
// statistics against a CPU reference over several steps, PyTorch's one-value-per-channel error, and
// an epoch's last batch of one left out with a note instead of ending the run.
import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { randomFloats, testGpu } from "./_gpu.ts";
import { fashionMnist, head } from "./_data.ts";
import {
  Adam,
  BatchNorm1d,
  BatchNorm2d,
  buildNetwork,
  Conv2d,
  Flatten,
  Linear,
  Model,
  Sequential,
  train,
  trainOnBatch,
} from "../mod.ts";
import { Random } from "../lib/random.ts";
import { readFloats } from "../lib/gpu/buffers.ts";

const convNet = () => {
  const rng = new Random(1);
  return new Sequential([
    new Conv2d(1, 3, 3, { rng }),
    new BatchNorm2d(3, { momentum: 0.2 }),
    new Flatten(),
    new Linear(3 * 26 * 26, 10, { rng }),
  ], { inputShape: [1, 28, 28] });
};

Deno.test("BatchNorm's state_dict: PyTorch's names and order, buffers after parameters", async () => {
  using model = new Model(await testGpu(), convNet());
  const dict = await model.stateDict();
  assertEquals(Object.keys(dict), [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
    "3.weight",
    "3.bias",
  ]);
  assertEquals(Array.from(dict["1.running_var"].data), [1, 1, 1]);
  assertEquals(dict["1.num_batches_tracked"].shape, []);
  // Running statistics from a file are checked as weights are: a NaN is refused, named.
  dict["1.running_var"].data[1] = NaN;
  assertThrows(() => model.loadStateDict(dict), /"1\.running_var" has 1 non-finite value/);
});

Deno.test("BatchNorm2d's running statistics follow the batches' (CPU reference, three steps)", async () => {
  using model = new Model(await testGpu(), convNet());
  const B = 4;
  const mean = [0, 0, 0], variance = [1, 1, 1];
  for (let step = 0; step < 3; step++) {
    const images = randomFloats(B * 784, 10 + step, 0, 1);
    await trainOnBatch(model, images, [0, 1, 2, 3]);
    const plan = await model.plan(B, "train");
    const y = await readFloats(model.gpu.device, plan.tensors.get("h0")!.slice.buffer);
    const N = B * 26 * 26;
    for (let c = 0; c < 3; c++) {
      const values: number[] = [];
      for (let b = 0; b < B; b++) {
        values.push(...y.subarray((b * 3 + c) * 676, (b * 3 + c + 1) * 676));
      }
      const m = values.reduce((a, v) => a + v, 0) / N;
      const v = values.reduce((a, x) => a + (x - m) ** 2, 0) / (N - 1);
      mean[c] = 0.8 * mean[c] + 0.2 * m;
      variance[c] = 0.8 * variance[c] + 0.2 * v;
    }
    assert(plan.forward.some((op) => op.name === "batchnorm.statistics"));
  }
  const dict = await model.stateDict();
  for (let c = 0; c < 3; c++) {
    assert(Math.abs(dict["1.running_mean"].data[c] - mean[c]) < 1e-5, `mean ${c}`);
    assert(Math.abs(dict["1.running_var"].data[c] - variance[c]) < 1e-5, `var ${c}`);
  }
  assertEquals(dict["1.num_batches_tracked"].data[0], 3);
});

Deno.test("BatchNorm1d: one value per channel is PyTorch's error; an epoch's last batch of one is left out with a note", async () => {
  const gpu = await testGpu();
  const net = () =>
    new Sequential([
      new Flatten(),
      new Linear(784, 16, { rng: new Random(3) }),
      new BatchNorm1d(16),
      new Linear(16, 10, { rng: new Random(4) }),
    ], { inputShape: [1, 28, 28] });
  using model = new Model(gpu, net());
  assertEquals(model.minTrainingBatch(), 2);
  await assertRejects(
    () => trainOnBatch(model, new Float32Array(784), [3]),
    /BatchNorm1d\(16, .*\): expected more than 1 value per channel when training, got a batch of 1/,
  );
  const data = await fashionMnist();
  const notes: string[] = [];
  const history = await train(model, { train: head(data.train, 65), test: head(data.test, 100) }, {
    epochs: 2,
    batchSize: 64,
    onNote: (note) => notes.push(note),
  });
  assertEquals(history.epochs.length, 2);
  assertEquals(history.progress.step, 2); // one batch of 64 per epoch
  assertEquals(notes, [
    "each epoch leaves out its last batch of 1 image: a BatchNorm needs more than one value per channel in training",
  ]);
  assertEquals(history.notes, notes);
});

Deno.test("in evaluation BatchNorm2d folds into the convolution before it: the same logits, the activation and pooling fused again", async () => {
  const gpu = await testGpu();
  const net = () =>
    buildNetwork({
      input_shape: [1, 28, 28],
      layers: [
        { type: "Conv2d", in_channels: 1, out_channels: 6, kernel_size: 5, padding: 2 },
        { type: "BatchNorm2d", num_features: 6 },
        { type: "ReLU" },
        { type: "MaxPool2d", kernel_size: 2 },
        { type: "Conv2d", in_channels: 6, out_channels: 8, kernel_size: 3 },
        { type: "BatchNorm2d", num_features: 8, eps: 1e-3 },
        { type: "Flatten" },
        { type: "Linear", in_features: 8 * 12 * 12, out_features: 10 },
      ],
    }, { seed: 2 });
  const { test } = await fashionMnist();
  const images = Float32Array.from(test.images.subarray(0, 32 * 784), (v) => v / 255);
  const labels = Array.from(test.labels.subarray(0, 32));
  using folded = new Model(gpu, net());
  // A few steps, so that the running statistics and the weights are no longer their first values.
  const optimizer = new Adam({ lr: 1e-2 });
  for (let i = 0; i < 5; i++) await trainOnBatch(folded, images, labels, optimizer);
  optimizer.dispose();
  using plain = new Model(gpu, net(), { fuse: false });
  plain.loadStateDict(await folded.stateDict());
  const plan = await folded.plan(32, "eval");
  assertEquals(plan.forward.map((op) => op.name), [
    "batchnorm.fold",
    "conv2d.forward",
    "batchnorm.fold",
    "conv2d.forward",
    "linear.forward",
  ]);
  assert(plan.forward[1].layer.endsWith("Conv2d + BatchNorm2d + ReLU + MaxPool2d"));
  const a = (await folded.predict(images, 32)).logits, b = (await plain.predict(images, 32)).logits;
  const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / scale;
  console.log(`folded vs unfolded logits: relative ${worst.toExponential(2)}`);
  assert(worst < 1e-5, `relative difference ${worst}`);
  // Training still normalises with the batch's statistics: nothing folds there.
  const train = await folded.plan(32, "train");
  assert(train.forward.some((op) => op.name === "batchnorm.statistics"));
  assert(!train.forward.some((op) => op.name === "batchnorm.fold"));
});
