import { assert } from "./_assert.ts";
import { maxAbsDiff, randomFloats, runKernel } from "./_gpu.ts";
import { sigmoid } from "./_reference.ts";
import { activationBackward, activationForward } from "../kernels/activation.ts";

Deno.test("sigmoid and ReLU forward and backward match the CPU reference", async () => {
  const n = 1000;
  const x = randomFloats(n, 1, -30, 30);
  x[0] = 0;
  x[1] = -100; // exp(100) overflows to inf: sigmoid must still give 0, not NaN
  const dy = randomFloats(n, 2);
  for (const kind of ["sigmoid", "relu"] as const) {
    const f = kind === "sigmoid" ? sigmoid : (v: number) => Math.max(v, 0);
    const [y] = await runKernel(activationForward(kind, n), [x, n]);
    const yRef = Array.from(x, f);
    const [dx] = await runKernel(activationBackward(kind, n), [y, dy, n]);
    const dxRef = Array.from(
      y,
      (v, i) => kind === "sigmoid" ? dy[i] * v * (1 - v) : v > 0 ? dy[i] : 0,
    );
    const err = { y: maxAbsDiff(y, yRef), dx: maxAbsDiff(dx, dxRef) };
    console.log(`${kind}: max abs difference`, err);
    assert(err.y < 1e-6 && err.dx < 1e-6, `${kind} ${JSON.stringify(err)}`);
    assert(y.every(Number.isFinite));
  }
});
