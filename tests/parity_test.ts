// PyTorch parity: fixtures written by tools/make_parity_fixtures.py with torch 1.13 (fixed
// weights, 8 real test images): logits, loss, every gradient, and one Adam and one SGD step.
import { assert, assertEquals } from "./_assert.ts";
import { testGpu } from "./_gpu.ts";
import { decodeSafetensors, float32Tensors } from "../lib/io/safetensors.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { buildNetwork } from "../lib/nn/network.ts";
import { Model } from "../lib/train/model.ts";
import type { Tensor } from "../lib/tensor.ts";
import { trainOnBatch } from "../lib/train/trainer.ts";
import { Adam, SGD } from "../lib/train/optimizer.ts";
import { readFloats, writeBytes } from "../lib/gpu/buffers.ts";
import { KernelRunner } from "../lib/gpu/kernel_runner.ts";
import { stepCalls } from "../lib/train/plan.ts";

const PARAMS = ["0", "3", "7", "9", "11"].flatMap((i) => [`${i}.weight`, `${i}.bias`]);

function prefixed(all: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  return Object.fromEntries(PARAMS.map((name) => [name, all[`${prefix}.${name}`]]));
}

/** Max |a-b|, and the max of |a-b| / max(|b|, floor) (relative, guarded near zero). */
function compare(a: Float32Array, b: Float32Array, floor: number) {
  let abs = 0, rel = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(b[i]), floor));
  }
  return { abs, rel };
}

async function flatToNamed(model: Model, buffer: GPUBuffer): Promise<Record<string, Float32Array>> {
  const flat = await readFloats(model.gpu.device, buffer);
  return Object.fromEntries(model.parameters.map((p) => [
    p.name,
    flat.slice(p.offset, p.offset + p.shape.reduce((x, y) => x * y, 1)),
  ]));
}

for (const [activation, pool] of [["sigmoid", "avg"], ["relu", "max"]] as const) {
  Deno.test(`PyTorch parity, ${activation} + ${pool} pooling: logits, loss, gradients, Adam and SGD steps`, async () => {
    const file = `tests/fixtures/parity_${activation}_${pool}.safetensors`;
    const t = float32Tensors(decodeSafetensors(await Deno.readFile(file), file), file);
    const model = new Model(await testGpu(), lenet5({ activation, pool }));
    model.loadStateDict(prefixed(t, "weight"));
    const images = t.input.data, labels = t.labels.data;

    const loss = await trainOnBatch(model, images, labels);
    const plan = await model.plan(labels.length, "train");
    const logits = compare(await readFloats(model.gpu.device, plan.logits), t.logits.data, 1);
    const lossDiff = Math.abs(loss - t.loss.data[0]);
    console.log(
      `logits max abs difference ${logits.abs.toExponential(2)}, loss ${lossDiff.toExponential(2)}`,
    );
    assert(logits.abs < 1e-4 && lossDiff < 1e-4);

    // Relative to each tensor's largest entry: a gradient of 1e-9 next to ones of 1e-2 is noise.
    const report = (
      what: string,
      got: Record<string, Float32Array>,
      want: Record<string, Tensor>,
      tol: number,
    ) => {
      for (const name of PARAMS) {
        const ref = want[name].data;
        const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const d = compare(got[name], ref, scale);
        console.log(
          `${what} ${name}: max abs ${d.abs.toExponential(2)}, relative ${d.rel.toExponential(2)}`,
        );
        assert(d.rel < tol, `${what} ${name}: relative difference ${d.rel}`);
      }
    };
    report("gradient", await flatToNamed(model, model.gradientBuffer), prefixed(t, "grad"), 1e-3);

    await trainOnBatch(model, images, labels, new Adam({ lr: 1e-3 }));
    report(
      "after Adam",
      await flatToNamed(model, model.parameterBuffer),
      prefixed(t, "adam"),
      1e-3,
    );

    model.loadStateDict(prefixed(t, "weight"));
    await trainOnBatch(
      model,
      images,
      labels,
      new SGD({ lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }),
    );
    report("after SGD", await flatToNamed(model, model.parameterBuffer), prefixed(t, "sgd"), 1e-3);
  });
}

// Networks that are not LeNet-5, built from the description PyTorch's fixture carries: every
// activation kind, stride 2, global average pooling, tanh where the engine fuses it, and
// BatchNorm (training: batch statistics and the running ones' update; evaluation: the running).
const ALONE: Record<string, string[]> = {
  every_layer: ["gelu.forward", "silu.forward", "leaky_relu.forward"],
  tanh_fused: [],
  batchnorm: ["sigmoid.forward", "relu.forward", "tanh.forward"],
};
for (const name of Object.keys(ALONE)) {
  Deno.test(`PyTorch parity, network "${name}" from its description: logits, loss, gradients, an SGD step, evaluation`, async () => {
    const file = `tests/fixtures/parity_${name}.safetensors`;
    const decoded = decodeSafetensors(await Deno.readFile(file), file);
    const t = float32Tensors(decoded, file);
    using model = new Model(await testGpu(), buildNetwork(JSON.parse(decoded.metadata.network)));
    const names = model.parameters.map((p) => p.name);
    const all = Object.keys(await model.stateDict()); // with BatchNorm's buffers
    const prefix = (p: string) => Object.fromEntries(all.map((n) => [n, t[`${p}.${n}`]]));
    model.loadStateDict(prefix("weight"));
    const images = t.input.data, labels = t.labels.data;

    const loss = await trainOnBatch(model, images, labels);
    const plan = await model.plan(labels.length, "train");
    // Which activations run alone: tanh runs inside its neighbours' kernels after a convolution
    // or a linear layer; GELU, SiLU, LeakyReLU always alone; any kind alone after a BatchNorm.
    const alone = plan.forward.flatMap((op) =>
      /^(sigmoid|relu|tanh|gelu|silu|leaky_relu)\.forward$/.test(op.name) ? [op.name] : []
    );
    assertEquals(alone, ALONE[name]);
    const logits = compare(await readFloats(model.gpu.device, plan.logits), t.logits.data, 1);
    const lossDiff = Math.abs(loss - t.loss.data[0]);
    console.log(`logits ${logits.abs.toExponential(2)}, loss ${lossDiff.toExponential(2)}`);
    assert(logits.abs < 1e-4 && lossDiff < 1e-4, `logits ${logits.abs}, loss ${lossDiff}`);

    const check = (
      what: string,
      got: Record<string, { data: Float32Array } | Float32Array>,
      keys: string[],
      want: string,
    ) => {
      // A tensor's scale, floored at 1e-2 of the largest of its kind: a convolution's bias
      // before a BatchNorm has a gradient of exactly 0, which both sides hold as rounding noise.
      const largest = (n: string) =>
        t[`${want}.${n}`].data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const floor = 1e-2 * Math.max(...keys.map(largest));
      for (const n of keys) {
        const ref = t[`${want}.${n}`].data;
        const value = got[n];
        const scale = Math.max(largest(n), floor);
        const d = compare(value instanceof Float32Array ? value : value.data, ref, scale);
        assert(d.rel < 1e-3, `${what} ${n}: relative difference ${d.rel}`);
      }
    };
    check("gradient", await flatToNamed(model, model.gradientBuffer), names, "grad");
    model.loadStateDict(prefix("weight"));
    await trainOnBatch(
      model,
      images,
      labels,
      new SGD({ lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }),
    );
    check("after SGD", await model.stateDict(), all, "sgd");

    const { logits: evalLogits } = await model.predict(images, labels.length);
    const evaluated = compare(evalLogits, t.eval_logits.data, 1);
    console.log(`evaluation logits ${evaluated.abs.toExponential(2)}`);
    assert(evaluated.abs < 1e-4, `evaluation logits ${evaluated.abs}`);

    // Evaluation mode's gradients (BatchNorm's running statistics, no dropout): the saliency
    // plan's backward, from the mean cross-entropy's gradient of those logits written by hand.
    check(
      "evaluation gradient",
      await evaluationGradients(model, images, labels),
      names,
      "evalgrad",
    );
  });
}

/** The parameters' gradients of the mean cross-entropy in evaluation mode (the saliency plan). */
async function evaluationGradients(
  model: Model,
  images: Float32Array,
  labels: Float32Array,
): Promise<Record<string, Float32Array>> {
  const { device } = model.gpu;
  const runner = KernelRunner.for(device);
  const n = labels.length, k = model.classes;
  const plan = await model.plan(n, "saliency");
  writeBytes(device, plan.x, 0, images);
  runner.submit(await runner.prepareAll(stepCalls(plan.forward)));
  const logits = await readFloats(device, plan.logits, 0, n * k);
  const dlogits = new Float32Array(n * k);
  for (let b = 0; b < n; b++) {
    const row = logits.subarray(b * k, (b + 1) * k);
    const top = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - top), 0);
    for (let c = 0; c < k; c++) {
      dlogits[b * k + c] = (Math.exp(row[c] - top) / sum - (c === labels[b] ? 1 : 0)) / n;
    }
  }
  writeBytes(device, plan.tensors.get("dlogits")!.slice.buffer, 0, dlogits);
  runner.submit(await runner.prepareAll(stepCalls(plan.backward)));
  return await flatToNamed(model, model.gradientBuffer);
}
