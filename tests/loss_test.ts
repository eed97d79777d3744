import { assert, assertEquals } from "./_assert.ts";
import { maxAbsDiff, randomFloats, runKernel } from "./_gpu.ts";
import * as ref from "./_reference.ts";
import { softmaxCrossEntropy } from "../kernels/loss.ts";
import { accumulateMetrics, argmaxRows } from "../kernels/metrics.ts";

Deno.test("softmax cross-entropy: loss, correctness and gradient match the CPU reference", async () => {
  const B = 37, K = 10;
  const z = randomFloats(B * K, 3, -8, 8);
  z.fill(1000, 0, K); // huge logits: a naive exp would overflow
  z[3] = 1001;
  const labels = Uint32Array.from({ length: B }, (_, b) => (b * 7) % K);
  const [rowLoss, correct, dz] = await runKernel(
    softmaxCrossEntropy({ batch: B, classes: K, gradient: true }),
    [z, labels, B, B, B * K],
  );
  const r = ref.softmaxCrossEntropy(z, labels, B, K);
  const err = { loss: maxAbsDiff(rowLoss, r.rowLoss), grad: maxAbsDiff(dz, r.dz) };
  console.log("softmax cross-entropy: max abs difference", err);
  assert(err.loss < 2e-5 && err.grad < 1e-7, JSON.stringify(err));
  assertEquals(Array.from(correct), Array.from(r.correct));
  assert(rowLoss.every(Number.isFinite));
});

Deno.test("accumulateMetrics adds batch sums, argmaxRows picks the first maximum", async () => {
  const rowLoss = new Float32Array([1, 2, 3, 6]), correct = new Float32Array([1, 0, 1, 1]);
  const totals = new Float32Array([10, 20, 30, 40, 0, 0, 0]);
  const step = new Uint32Array([0, 1, 0, 0]); // ring slot 1
  const [out] = await runKernel(accumulateMetrics(4, 3), [rowLoss, correct, totals, step]);
  assertEquals(Array.from(out), [13, 32, 33, 44, 0, 3, 0]); // the batch's mean loss at slot 1
  const logits = new Float32Array([0, 5, 5, 1, -1, -2, -3, -4, 7]);
  const [pred] = await runKernel(argmaxRows(3, 3), [logits, 3]);
  assertEquals(Array.from(new Uint32Array(pred.buffer)), [1, 0, 2]);
});
