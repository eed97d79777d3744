import { assert, assertEquals } from "./_assert.ts";
import { randomFloats, runKernel } from "./_gpu.ts";
import { ACTIVATION_REFERENCE, erf } from "./_reference.ts";
import {
  ACTIVATION_KINDS,
  activationBackward,
  activationForward,
  ACTIVATIONS,
  FUSIBLE_ACTIVATIONS,
} from "../kernels/activation.ts";

Deno.test("the CPU reference's erf is erf", () => {
  // Known values (Abramowitz & Stegun table 7.1, and erf(3) = 0.9999779095030014).
  for (
    const [x, want] of [
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
    ]
  ) {
    assert(Math.abs(erf(x) - want) < 1e-14 && Math.abs(erf(-x) + want) < 1e-14, `erf(${x})`);
  }
});

Deno.test("every activation kind: forward and backward match the CPU reference", async () => {
  const n = 1000;
  const x = randomFloats(n, 1, -30, 30);
  // Near zero, where GELU's and SiLU's curves bend, and values whose exp overflows.
  x.set([0, 1e-4, -1e-4, 0.5, -0.5, 1.5, -1.5, 3, -3, 50, -50, -100, 100, 1e30, -1e30]);
  x.set(randomFloats(200, 3, -4, 4), 20);
  const dy = randomFloats(n, 2);
  for (const kind of ACTIVATION_KINDS) {
    const ref = ACTIVATION_REFERENCE[kind];
    const [y] = await runKernel(activationForward(kind, n), [x, n]);
    const input = ACTIVATIONS[kind].derivativeFrom === "output" ? y : x;
    const [dx] = await runKernel(activationBackward(kind, n), [input, dy, n]);
    let worst = { y: 0, dx: 0 };
    for (let i = 0; i < n; i++) {
      // Relative above 1: a float32 result is only as exact as its magnitude.
      const yErr = Math.abs(y[i] - ref.f(x[i])) / Math.max(1, Math.abs(ref.f(x[i])));
      const dxErr = Math.abs(dx[i] - dy[i] * ref.df(x[i]));
      worst = { y: Math.max(worst.y, yErr), dx: Math.max(worst.dx, dxErr) };
    }
    console.log(`${kind}: max difference`, worst);
    assert(worst.y < 2e-6 && worst.dx < 2e-6, `${kind} ${JSON.stringify(worst)}`);
    assert(y.every(Number.isFinite) && dx.every(Number.isFinite), `${kind}: a non-finite value`);
  }
});

Deno.test("every activation kind keeps NaN, as PyTorch does", async () => {
  const x = Float32Array.of(NaN, 1, -1);
  for (const kind of ACTIVATION_KINDS) {
    const [y] = await runKernel(activationForward(kind, 3), [x, 3]);
    assert(Number.isNaN(y[0]), `${kind}(NaN) = ${y[0]}`);
    assert(Number.isFinite(y[1]) && Number.isFinite(y[2]), kind);
  }
});

Deno.test("LeakyReLU's slope reaches its kernels", async () => {
  const x = Float32Array.of(-2, 3);
  const [y] = await runKernel(activationForward("leaky_relu", 2, { negativeSlope: 0.25 }), [x, 2]);
  assertEquals(Array.from(y), [-0.5, 3]);
  const [dx] = await runKernel(
    activationBackward("leaky_relu", 2, { negativeSlope: 0.25 }),
    [x, Float32Array.of(4, 4), 2],
  );
  assertEquals(Array.from(dx), [1, 4]);
});

Deno.test("the fusible kinds are those whose derivative is taken from the output, with no arguments", () => {
  const expected = ACTIVATION_KINDS.filter((k) =>
    ACTIVATIONS[k].derivativeFrom === "output" && !ACTIVATIONS[k].repr({}).includes("=")
  );
  assertEquals([...FUSIBLE_ACTIVATIONS], expected);
});
