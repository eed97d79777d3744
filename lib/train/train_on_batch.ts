/**
 * One training step on a batch given as arrays: PyTorch's forward, loss, backward and optimiser
 * step in one call, for parity checks and small experiments.
 *
 * @module
 */
import { readFloats, writeBytes } from "../gpu/buffers.ts";
import { KernelRunner } from "../gpu/kernel_runner.ts";
import { DEFAULTS } from "../defaults.ts";
import { sizeOf } from "../tensor.ts";
import type { Model } from "./model.ts";
import type { Optimizer } from "./optimizer.ts";
import { stepCalls } from "./plan.ts";
import { checkLabels, exclusive } from "./_guards.ts";
import { checkGpu } from "../gpu/device.ts";

/**
 * One step on a batch you supply (Keras' `train_on_batch`): forward, mean cross-entropy,
 * backward, and the optimiser's update when one is given (without one, only the gradients are
 * computed, like `loss.backward()`). Returns the batch's mean loss.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Adam, lenet5, Model, requestGpu, trainOnBatch } from "../../mod.ts";
 * const model = new Model(await requestGpu(), lenet5());
 * const images = new Float32Array(4 * 28 * 28).fill(0.5), labels = [0, 1, 2, 3];
 * const optimizer = new Adam({ lr: 1e-2 });
 * const first = await trainOnBatch(model, images, labels, optimizer);
 * for (let i = 0; i < 20; i++) await trainOnBatch(model, images, labels, optimizer);
 * assert.ok(first > 2 && first < 2.6); // about ln 10 at the start
 * optimizer.dispose();
 * model.dispose();
 * ```
 */
export async function trainOnBatch(
  model: Model,
  images: Float32Array,
  labels: ArrayLike<number>,
  optimizer?: Optimizer,
): Promise<number> {
  const n = labels.length;
  if (n === 0) throw new RangeError("trainOnBatch: the batch is empty");
  checkLabels(labels, model.classes, "trainOnBatch");
  const per = sizeOf(model.inputShape);
  if (images.length !== n * per) {
    throw new RangeError(
      `trainOnBatch: ${images.length} floats for ${n} labels, expected ${n * per}`,
    );
  }
  return await exclusive(model, "trainOnBatch", async () => {
    const device = model.gpu.device;
    const runner = KernelRunner.for(device);
    const plan = await model.plan(n, "train");
    const dispatches = await runner.prepareAll(stepCalls([
      ...plan.forward,
      ...plan.loss,
      ...plan.backward,
      ...(optimizer ? [optimizer.attach(model)] : []),
    ]));
    writeBytes(device, plan.x, 0, images);
    writeBytes(device, plan.labels, 0, Uint32Array.from(labels));
    model.setNoise(DEFAULTS.seed, model.noiseStep + 1);
    optimizer?.beginStep(device);
    runner.submit(dispatches);
    const rowLoss = await readFloats(device, plan.rowLoss, 0, n);
    checkGpu(model.gpu);
    return rowLoss.reduce((a, b) => a + b, 0) / n;
  });
}
