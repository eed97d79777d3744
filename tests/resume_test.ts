// A run stopped and resumed (weights, optimiser state, progress) takes the same steps as one
// that was never stopped.
import { assert, assertEquals } from "./_assert.ts";
import { fashionMnist, head } from "./_data.ts";
import { testGpu } from "./_gpu.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { buildNetwork } from "../lib/nn/network.ts";
import { Model } from "../lib/train/model.ts";
import { Adam, AdamW, SGD } from "../lib/train/optimizer.ts";
import { train, type TrainOptions, type TrainProgress } from "../lib/train/trainer.ts";

const options: TrainOptions = { epochs: 2, batchSize: 64, logEvery: 4 };

async function weights(model: Model): Promise<Float32Array> {
  const dict = await model.stateDict();
  return Float32Array.from(Object.values(dict).flatMap((t) => Array.from(t.data)));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

/** A network with BatchNorm (running statistics to carry over) and Dropout (masks to redraw). */
const normalisedNet = () =>
  buildNetwork({
    input_shape: [1, 28, 28],
    layers: [
      { type: "Conv2d", in_channels: 1, out_channels: 4, kernel_size: 5, padding: 2 },
      { type: "BatchNorm2d", num_features: 4 },
      { type: "ReLU" },
      { type: "MaxPool2d", kernel_size: 2 },
      { type: "Flatten" },
      { type: "Dropout", p: 0.3 },
      { type: "Linear", in_features: 784, out_features: 32 },
      { type: "BatchNorm1d", num_features: 32 },
      { type: "ReLU" },
      { type: "Dropout", p: 0.5 },
      { type: "Linear", in_features: 32, out_features: 10 },
    ],
  }, { seed: 4 });

const KINDS = [
  "adam",
  "sgd",
  "adamw + onecycle + label smoothing + augmentation",
  "adam, BatchNorm and Dropout",
] as const;
for (const kind of KINDS) {
  Deno.test(`${kind}: resuming after an epoch or in the middle of one gives the uninterrupted run's weights`, async () => {
    const gpu = await testGpu();
    const ds = await fashionMnist();
    const data = { train: head(ds.train, 1024), test: head(ds.test, 256) };
    const optimizer = () =>
      kind.startsWith("adam,") || kind === "adam"
        ? new Adam()
        : kind === "sgd"
        ? new SGD({ lr: 0.1, momentum: 0.9 })
        : new AdamW({ lr: 3e-3 });
    // A schedule's rate and the augmentation's draws follow from the step: a resumed run
    // continues them exactly.
    const recipe: TrainOptions = kind.startsWith("adamw")
      ? {
        ...options,
        schedule: { kind: "onecycle" },
        labelSmoothing: 0.1,
        augment: { seed: 4, cropPadding: 2, flip: true, erase: { p: 0.5, min: 4, max: 10 } },
      }
      : options;
    const net = () =>
      kind.includes("Dropout")
        ? normalisedNet()
        : lenet5({ activation: "relu", pool: "max", seed: 4 });

    using whole = new Model(gpu, net());
    const wholeOpt = optimizer();
    const reference = await train(whole, data, { ...recipe, optimizer: wholeOpt });
    const want = await weights(whole);
    wholeOpt.dispose();

    // Stop after epoch 1 (its evaluation done), after its last step (evaluation pending), and
    // after step 21 (batch 5 of epoch 2): [when, expected step, epochs done, batches done].
    const stops = [["epoch", 16, 1, 0], ["step", 16, 0, 16], ["step", 21, 1, 5]] as const;
    for (const [when, stopAt, epochsDone, batchesDone] of stops) {
      using first = new Model(gpu, net());
      const firstOpt = optimizer();
      const controller = new AbortController();
      const stopped = await train(first, data, {
        ...recipe,
        optimizer: firstOpt,
        signal: controller.signal,
        onStep: (e) => {
          if (when === "step" && e.step === stopAt) controller.abort();
        },
        onEpoch: () => {
          if (when === "epoch") controller.abort();
        },
      });
      assert(stopped.stopped);
      const progress: TrainProgress = JSON.parse(JSON.stringify(stopped.progress)); // as saved
      assertEquals(
        [progress.step, progress.epoch, progress.batch],
        [stopAt, epochsDone, batchesDone],
      );

      using second = new Model(gpu, net());
      second.loadStateDict(await first.stateDict());
      const secondOpt = optimizer();
      secondOpt.attach(second);
      secondOpt.loadStateDict(await firstOpt.stateDict());
      const resumed = await train(second, data, {
        ...recipe,
        optimizer: secondOpt,
        resume: progress,
      });
      const diff = maxDiff(await weights(second), want);
      console.log(`${kind}, stopped after ${when} ${stopAt}: max |Δw| = ${diff}`);
      assert(diff <= 1e-4, `max |Δw| ${diff}`);
      assertEquals(
        [...stopped.epochs, ...resumed.epochs].map((m) => m.test_accuracy),
        reference.epochs.map((m) => m.test_accuracy),
      );
      firstOpt.dispose();
      secondOpt.dispose();
    }
  });
}
