// Inspection: the saliency map from the device's backward pass equals the finite differences of
// the model's own logits; the feature maps are the layers' outputs; the mistakes are mistakes,
// most confident first; `predict --explain` draws one SVG per input.
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "./_assert.ts";
import { run } from "./_cli.ts";
import { testGpu } from "./_gpu.ts";
import { fashionMnist, head } from "./_data.ts";
import {
  confidentMistakes,
  inspect,
  lenet5,
  Model,
  saveCheckpoint,
  splitFromArrays,
  train,
} from "../mod.ts";

const data = await fashionMnist();
const image = Float32Array.from(data.test.images.subarray(0, 784), (v) => v / 255);

Deno.test("saliency is d logit / d input: the finite differences of the model's own logits", async () => {
  using model = new Model(await testGpu(), lenet5({ activation: "relu", pool: "max", seed: 3 }));
  await train(model, { train: head(data.train, 2048) }, { epochs: 1, batchSize: 64 });
  const result = await inspect(model, image, { target: 9 });
  assertEquals(result.explained.label, 9);
  // Central differences on 24 pixels of the object, all in one predict call. ReLU and max pooling
  // are linear between kinks, and a small step stays between them where the input has texture;
  // on the flat black ground, max pooling's windows tie and only one-sided derivatives exist.
  const textured = Array.from({ length: 784 }, (_, p) => p).filter((p) => {
    const [y, x] = [Math.floor(p / 28), p % 28];
    const around = [[y - 1, x], [y + 1, x], [y, x - 1], [y, x + 1]]
      .filter(([i, j]) => i >= 0 && i < 28 && j >= 0 && j < 28)
      .map(([i, j]) => image[i * 28 + j]);
    return image[p] > 0.1 && around.every((v) => Math.abs(v - image[p]) > 0.01);
  });
  const pixels = Array.from(
    { length: 24 },
    (_, k) => textured[Math.floor(k * textured.length / 24)],
  );
  const h = 1e-3;
  const batch = new Float32Array(2 * pixels.length * 784);
  pixels.forEach((p, k) => {
    for (const [side, sign] of [[0, 1], [1, -1]]) {
      const at = (2 * k + side) * 784;
      batch.set(image, at);
      batch[at + p] += sign * h;
    }
  });
  const { logits } = await model.predict(batch, 2 * pixels.length);
  const scale = Math.max(...result.saliency.map(Math.abs));
  assert(scale > 0, "a saliency map of zeros");
  for (const [k, p] of pixels.entries()) {
    const fd = (logits[(2 * k) * 10 + 9] - logits[(2 * k + 1) * 10 + 9]) / (2 * h);
    assert(
      Math.abs(fd - result.saliency[p]) <= 2e-2 * scale,
      `pixel ${p}: finite difference ${fd}, saliency ${result.saliency[p]} (max ${scale})`,
    );
  }
  const { logits: direct } = await model.predict(image, 1);
  assert(direct.every((v, i) => Math.abs(v - result.logits[i]) <= 1e-6));
});

Deno.test("feature maps are each layer's output: the pooled maps pool the convolution's", async () => {
  using model = new Model(await testGpu(), lenet5({ activation: "relu", pool: "max" }));
  const result = await inspect(model, image, { classNames: data.classNames });
  assertEquals(result.featureMaps.map((m) => m.layer), [
    "0 Conv2d + ReLU",
    "2 MaxPool2d",
    "3 Conv2d + ReLU",
    "5 MaxPool2d",
  ]);
  for (const [conv, pooled] of [[0, 1], [2, 3]]) {
    const { data: y, shape: [c, h, w] } = result.featureMaps[conv];
    const p = result.featureMaps[pooled].data;
    for (let k = 0; k < c; k++) {
      for (let i = 0; i < h / 2; i++) {
        for (let j = 0; j < w / 2; j++) {
          const at = (di: number, dj: number) => y[(k * h + 2 * i + di) * w + 2 * j + dj];
          const max = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
          assertEquals(p[(k * (h / 2) + i) * (w / 2) + j], max);
        }
      }
    }
    assert(y.every((v) => v >= 0), "ReLU's output");
  }
  assertEquals(result.top.length, 3);
  assert(result.top[0].probability >= result.top[1].probability);
  assertMatch(result.top[0].name, /\w/);
  await assertRejects(() => inspect(model, new Float32Array(10)), RangeError, "784");
  await assertRejects(() => inspect(model, image, { target: 10 }), RangeError, "target 10");
});

Deno.test("the most confident mistakes are wrong, sorted by the model's probability", async () => {
  using model = new Model(await testGpu(), lenet5({ activation: "relu", pool: "max" }));
  await train(model, { train: head(data.train, 2048) }, { epochs: 1, batchSize: 64 });
  const test = head(data.test, 1000);
  const result = await confidentMistakes(model, test, 8, data.classNames);
  assertEquals(result.mistakes.length, 8);
  for (const [k, m] of result.mistakes.entries()) {
    assert(m.label === test.labels[m.index] && m.predicted !== m.label);
    if (k) assert(result.mistakes[k - 1].confidence >= m.confidence);
    assertEquals(
      result.images.subarray(k * 784, (k + 1) * 784),
      test.images.subarray(m.index * 784, (m.index + 1) * 784),
    );
  }
  const svg = result[Symbol.for("Jupyter.display") as keyof typeof result] as () => Record<
    string,
    string
  >;
  assertEquals(svg()["image/svg+xml"].match(/<image /g)!.length, 8);
});

Deno.test("predict --explain DIR writes one SVG per input; a file for DIR is refused", async () => {
  const dir = await Deno.makeTempDir();
  using model = new Model(await testGpu(), lenet5({ activation: "relu", pool: "max" }));
  const checkpoint = `${dir}/m.safetensors`;
  await Deno.writeFile(
    checkpoint,
    await saveCheckpoint(model, { activation: "relu", pool: "max", input_size: "28" }),
  );
  const args = ["--checkpoint", checkpoint, "--index", "3", "--explain", `${dir}/ex`];
  const r = await run("cli/predict.ts", args);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /test image 3: explained in .*\/ex\/test_image_3\.svg/);
  const svg = await Deno.readTextFile(`${dir}/ex/test_image_3.svg`);
  assertMatch(svg, /^<svg /);
  assertMatch(svg, /saliency: ∂ logit\[[^\]]+\] \/ ∂ input/);
  assertEquals(svg.match(/<image /g)!.length, 2 + 6 + 6 + 16 + 16 + 6 + 96);
  const bad = await run("cli/predict.ts", [...args.slice(0, 4), "--explain", checkpoint]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /--explain .* is a file, not a folder/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("confidentMistakes and head check their counts where they enter", async () => {
  using model = new Model(await testGpu(), lenet5());
  const split = splitFromArrays(new Uint8Array(4 * 784), Uint8Array.of(0, 1, 2, 3), 28, 28);
  for (const bad of [-1, NaN, 2.5, Infinity]) {
    await assertRejects(() => confidentMistakes(model, split, bad), /count must be a whole number/);
  }
  for (const bad of [-1, NaN, 1.5]) {
    assertThrows(() => head(split, bad), /head: n must be a whole number of at least 0/);
  }
  assertEquals(head(split, 0).count, 0);
});
