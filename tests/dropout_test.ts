// Dropout tested by its mask (PyTorch's random stream cannot be matched): in training a share p
// of the values is zeroed and the rest scaled by 1/(1 - p), the backward uses the very same mask,
// each step draws another, the same seed and step draw the same; in evaluation it is the identity.
import { assert, assertEquals } from "./_assert.ts";
import { randomFloats, testGpu } from "./_gpu.ts";
import { readFloats } from "../lib/gpu/buffers.ts";
import { Dropout, Linear, Model, Sequential, trainOnBatch } from "../mod.ts";
import { Random } from "../lib/random.ts";

const B = 64, P = 0.3;
const net = () => {
  const rng = new Random(2);
  return new Sequential(
    [new Linear(784, 64, { rng }), new Dropout(P), new Linear(64, 10, { rng })],
    {
      inputShape: [784],
    },
  );
};
const images = randomFloats(B * 784, 1, 0, 1);
const labels = Array.from({ length: B }, (_, i) => i % 10);

/** The dropout's input and output, and their gradients, after one training step. */
async function step(model: Model) {
  await trainOnBatch(model, images, labels);
  const plan = await model.plan(B, "train");
  const read = (name: string) => readFloats(model.gpu.device, plan.tensors.get(name)!.slice.buffer);
  return { x: await read("h0"), y: await read("h1"), dx: await read("dh0"), dy: await read("dh1") };
}

Deno.test("Dropout in training: a share p zeroed, the rest scaled by 1/(1 - p), the backward on the same mask", async () => {
  using model = new Model(await testGpu(), net());
  const scale = Math.fround(1 / (1 - P));
  const { x, y, dx, dy } = await step(model);
  let dropped = 0;
  for (let i = 0; i < x.length; i++) {
    const kept = y[i] !== 0;
    if (!kept) dropped++;
    assertEquals(y[i], kept ? Math.fround(x[i] * scale) : 0, `y[${i}]`);
    assertEquals(dx[i], kept ? Math.fround(dy[i] * scale) : 0, `dx[${i}]`);
  }
  const share = dropped / x.length; // 4,096 draws: p ± 0.03 is over four standard deviations
  console.log(`dropped ${share.toFixed(4)} of ${x.length} (p = ${P})`);
  assert(Math.abs(share - P) < 0.03, `dropped ${share}`);
});

Deno.test("Dropout draws a new mask each step, and the same one for the same seed and step", async () => {
  const gpu = await testGpu();
  using a = new Model(gpu, net());
  using b = new Model(gpu, net());
  const first = await step(a), again = await step(b); // both step 1 of seed 0
  assertEquals(Array.from(again.y, (v) => v !== 0), Array.from(first.y, (v) => v !== 0));
  const second = await step(a); // step 2
  const changed = second.y.filter((v, i) => (v !== 0) !== (first.y[i] !== 0)).length;
  // Two independent masks disagree on 2p(1 - p) = 42% of the values.
  assert(changed / first.y.length > 0.3, `only ${changed} of ${first.y.length} changed`);
});

Deno.test("Dropout in evaluation passes its input on", async () => {
  using model = new Model(await testGpu(), net());
  const { logits } = await model.predict(images, B);
  const plan = await model.plan(B, "eval");
  const read = (name: string) => readFloats(model.gpu.device, plan.tensors.get(name)!.slice.buffer);
  assertEquals(await read("h1"), await read("h0"));
  assertEquals(logits.length, B * 10);
});
