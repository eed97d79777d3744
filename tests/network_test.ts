// Networks as data (lib/nn/network.ts): describe ↔ buildNetwork, the errors of a bad description,
// and a network that is not LeNet-5 through the checkpoint-reading commands with no architecture
// flag: its file's description is enough.
import { assert, assertEquals, assertMatch, assertThrows } from "./_assert.ts";
import { run } from "./_cli.ts";
import { testGpu } from "./_gpu.ts";
import { fashionMnist, head } from "./_data.ts";
import {
  BatchNorm1d,
  BatchNorm2d,
  buildNetwork,
  Conv2d,
  describe,
  Dropout,
  Flatten,
  GELU,
  LeakyReLU,
  lenet5,
  Linear,
  MaxPool2d,
  Model,
  type NetworkDescription,
  saveCheckpoint,
  Sequential,
  SiLU,
  Tanh,
  train,
} from "../mod.ts";
import { AdaptiveAvgPool2d } from "../lib/nn/pool.ts";
import { Random } from "../lib/random.ts";

/** A small CNN that is not in the repository's networks: stride 2, nested, every new layer. */
function smallCnn(rng = new Random(5)): Sequential {
  return new Sequential([
    new Conv2d(1, 8, 3, { stride: 2, padding: 1, rng }),
    new GELU(),
    new Sequential([new Conv2d(8, 16, 3, { padding: 1, rng }), new SiLU(), new MaxPool2d(2)]),
    new Conv2d(16, 16, 3, { padding: 1, rng }),
    new BatchNorm2d(16),
    new LeakyReLU(0.2),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Dropout(0.2),
    new Linear(16, 12, { rng }),
    new BatchNorm1d(12),
    new Tanh(),
    new Linear(12, 10, { rng }),
  ], { inputShape: [1, 28, 28] });
}

Deno.test("describe then buildNetwork gives the same network, with the same weights for the same seed", () => {
  for (
    const options of [{}, { activation: "relu", pool: "max" }, { activation: "tanh" }] as const
  ) {
    const net = lenet5({ ...options, seed: 3 });
    const description = JSON.parse(JSON.stringify(describe(net)));
    const again = buildNetwork(description, { seed: 3 });
    assertEquals(String(again), String(net));
    assertEquals(again.inputShape, [1, 28, 28]);
    assertEquals(
      again.namedParameters().map((p) => [p.qualifiedName, Array.from(p.data)]),
      net.namedParameters().map((p) => [p.qualifiedName, Array.from(p.data)]),
    );
  }
  const cnn = smallCnn();
  const rebuilt = buildNetwork(describe(cnn));
  assertEquals(String(rebuilt), String(cnn));
  assertEquals(rebuilt.namedParameters().map((p) => p.qualifiedName), [
    "0.weight",
    "0.bias",
    "2.0.weight",
    "2.0.bias",
    "3.weight",
    "3.bias",
    "4.weight",
    "4.bias",
    "9.weight",
    "9.bias",
    "10.weight",
    "10.bias",
    "12.weight",
    "12.bias",
  ]);
  assertEquals(rebuilt.namedBuffers().map((p) => p.qualifiedName).slice(0, 3), [
    "4.running_mean",
    "4.running_var",
    "4.num_batches_tracked",
  ]);
  assertEquals(describe(cnn).layers[5], { type: "LeakyReLU", negative_slope: 0.2 });
});

Deno.test("a bad description names the layer and what was expected", () => {
  const base: NetworkDescription = describe(smallCnn());
  const at = (i: number, layer: Record<string, unknown>) => ({
    ...base,
    layers: base.layers.toSpliced(i, 1, layer as never),
  });
  const cases: [unknown, RegExp][] = [
    [{ ...base, layers: [] }, /layers must be a non-empty array/],
    [at(1, { type: "Softmax" }), /layer 1: unknown type "Softmax"; expected one of Conv2d, Linear/],
    [
      at(0, { type: "Conv2d", in_channels: 1, out_channels: 0, kernel_size: 3 }),
      /layer 0 \(Conv2d\): out_channels must be a positive integer, got 0/,
    ],
    [
      at(0, { type: "Conv2d", in_channels: 1, out_channels: 8, kernel_size: 3, dilation: 2 }),
      /layer 0 \(Conv2d\): unknown argument "dilation"; it takes in_channels/,
    ],
    [
      at(5, { type: "LeakyReLU", negative_slope: "x" }),
      /layer 5 \(LeakyReLU\): negative_slope must be a finite number/,
    ],
    [
      at(6, { type: "AdaptiveAvgPool2d", output_size: 7 }),
      /layer 6 \(AdaptiveAvgPool2d\): only output_size 1/,
    ],
    [
      at(9, { type: "Linear", in_features: 32, out_features: 10 }),
      /layer 9 \(Linear\(in_features=32, .*\)\): input shape \[16\] does not fit, expected \[32\]/,
    ],
    [
      at(8, { type: "Dropout", p: 1 }),
      /layer 8 \(Dropout\): p must be a number in \[0, 1\), got 1/,
    ],
    [
      at(4, { type: "BatchNorm2d", num_features: 8 }),
      /layer 4 \(BatchNorm2d\(8, .*\)\): input shape \[16, 7, 7\] does not fit, expected \[8, H, W\]/,
    ],
    [
      at(10, { type: "BatchNorm1d", num_features: 12, affine: false }),
      /layer 10 \(BatchNorm1d\): only affine=true is supported/,
    ],
    [
      at(2, { type: "Sequential", layers: [{ type: "Tanh", x: 1 }] }),
      /layer 2\.0 \(Tanh\): unknown argument "x"; it takes none/,
    ],
    [{ ...base, input_shape: [1, -28, 28] }, /input_shape must be/],
    [{ ...base, version: 2 }, /version 2 is not known/],
    [{ ...base, extra: 1 }, /unknown key "extra"/],
    [[], /must be a JSON object/],
  ];
  for (const [description, message] of cases) {
    assertThrows(
      () => buildNetwork(description),
      (e: Error) => e instanceof RangeError && message.test(e.message),
    );
  }
});

Deno.test("a described network's checkpoint: eval, predict and export (onnxruntime) need no architecture flag", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = await fashionMnist();
    using model = new Model(await testGpu(), smallCnn());
    await train(model, { train: head(data.train, 2048) }, { epochs: 1, batchSize: 64 });
    const checkpoint = `${dir}/cnn.safetensors`;
    await Deno.writeFile(checkpoint, await saveCheckpoint(model));

    const evaluated = await run("cli/eval.ts", ["--checkpoint", checkpoint, "--json"]);
    assertEquals(evaluated.code, 0, evaluated.stderr);
    const report = JSON.parse(evaluated.stdout);
    assertEquals(report.network, "a 15-layer network");
    const ours = await model.predict(Float32Array.from(data.test.images, (v) => v / 255), 10000);
    const correct = ours.classes.filter((c, i) => c === data.test.labels[i]).length;
    assertEquals(report.test_accuracy, correct / 10000);

    const predicted = await run("cli/predict.ts", [
      "--checkpoint",
      checkpoint,
      "--json",
      "--index",
      "7",
    ]);
    assertEquals(predicted.code, 0, predicted.stderr);
    assertEquals(JSON.parse(predicted.stdout).top[0].label, ours.classes[7]);

    const onnx = `${dir}/cnn.onnx`;
    const exported = await run("cli/export.ts", ["--checkpoint", checkpoint, "--out", onnx]);
    assertEquals(exported.code, 0, exported.stderr);
    assertMatch(exported.stdout, /a 15-layer network as ONNX opset 13/);
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(await Deno.readFile(onnx));
    const n = 200;
    const input = new ort.Tensor(
      "float32",
      Float32Array.from(data.test.images.subarray(0, n * 784), (v) => v / 255),
      [n, 1, 28, 28],
    );
    const theirs = (await session.run({ input })).logits.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < n * 10; i++) worst = Math.max(worst, Math.abs(theirs[i] - ours.logits[i]));
    assert(worst < 1e-5, `onnxruntime's logits differ by ${worst}`);

    const summarised = await run("cli/summary.ts", ["--checkpoint", checkpoint, "--json"]);
    assertEquals(summarised.code, 0, summarised.stderr);
    const total = model.parameters.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
    assertEquals(JSON.parse(summarised.stdout).totalParams, total);

    const flagged = await run("cli/eval.ts", ["--checkpoint", checkpoint, "--activation", "relu"]);
    assertEquals(flagged.code, 2);
    assertMatch(
      flagged.stderr,
      /--activation applies to LeNet-5 files; .*cnn\.safetensors describes its own network/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
