import { assert } from "./_assert.ts";
import { maxAbs, maxAbsDiff, randomFloats, runKernel } from "./_gpu.ts";
import { adamUpdate, sgdUpdate } from "../kernels/optim.ts";

const n = 1024;

Deno.test("Adam matches PyTorch's update over three steps, with weight decay", async () => {
  let p: Float32Array = randomFloats(n, 1), m: Float32Array = new Float32Array(n);
  let v: Float32Array = new Float32Array(n);
  const ref = { p: Float64Array.from(p), m: new Float64Array(n), v: new Float64Array(n) };
  const c = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }, lr = 1e-3;
  for (let t = 1; t <= 3; t++) {
    const g = randomFloats(n, 10 + t);
    g[0] = 0; // a zero gradient must not divide by zero
    const bc1 = 1 - c.beta1 ** t, bc2 = 1 - c.beta2 ** t;
    const step = new Float32Array([lr / bc1, Math.sqrt(bc2)]);
    [p, m, v] = await runKernel(adamUpdate(n, c), [p, g, m, v, step]);
    for (let i = 0; i < n; i++) {
      const gi = g[i] + c.weightDecay * ref.p[i];
      ref.m[i] = c.beta1 * ref.m[i] + (1 - c.beta1) * gi;
      ref.v[i] = c.beta2 * ref.v[i] + (1 - c.beta2) * gi * gi;
      ref.p[i] -= (lr / bc1) * ref.m[i] / (Math.sqrt(ref.v[i]) / Math.sqrt(bc2) + c.eps);
    }
  }
  const err = maxAbsDiff(p, ref.p) / maxAbs(ref.p);
  console.log(`Adam, 3 steps: max relative difference ${err}`);
  assert(err < 1e-6, String(err));
});

for (const nesterov of [false, true]) {
  Deno.test(`SGD with momentum and weight decay matches PyTorch (nesterov=${nesterov})`, async () => {
    let p: Float32Array = randomFloats(n, 2), buf: Float32Array = new Float32Array(n);
    const ref = { p: Float64Array.from(p), buf: new Float64Array(n) };
    const c = { momentum: 0.9, weightDecay: 5e-4, nesterov }, lr = 0.1;
    for (let t = 1; t <= 3; t++) {
      const g = randomFloats(n, 20 + t);
      [p, buf] = await runKernel(sgdUpdate(n, c), [p, g, buf, new Float32Array([lr])]);
      for (let i = 0; i < n; i++) {
        const gi = g[i] + c.weightDecay * ref.p[i];
        ref.buf[i] = c.momentum * ref.buf[i] + gi;
        ref.p[i] -= lr * (nesterov ? gi + c.momentum * ref.buf[i] : ref.buf[i]);
      }
    }
    const err = maxAbsDiff(p, ref.p) / maxAbs(ref.p);
    console.log(`SGD nesterov=${nesterov}, 3 steps: max relative difference ${err}`);
    assert(err < 1e-6, String(err));
  });
}
