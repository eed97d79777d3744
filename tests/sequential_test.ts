import { assert, assertEquals } from "./_assert.ts";
import { randomFloats, testGpu } from "./_gpu.ts";
import { Sequential } from "../lib/nn/sequential.ts";
import { Linear } from "../lib/nn/linear.ts";
import { ReLU, Sigmoid } from "../lib/nn/activation.ts";
import { Flatten } from "../lib/nn/flatten.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { Model } from "../lib/train/model.ts";
import { fusedActivations } from "../lib/train/fusion.ts";
import { Random } from "../lib/random.ts";
import { sigmoid } from "./_reference.ts";

Deno.test("activations between fusable layers are fused; others keep their own kernels", () => {
  const t = true, f = false;
  const fused = (net: Sequential) => fusedActivations(net.flat().map((p) => p.layer));
  assertEquals(fused(lenet5()), [f, t, f, f, t, f, f, f, t, f, t, f]);
  const net = new Sequential([
    new Flatten(),
    new Linear(4, 3),
    new ReLU(),
    new Linear(3, 2),
    new Sigmoid(),
  ]);
  assertEquals(fused(net), [f, f, t, f, f]); // the last Sigmoid has no layer after it to fuse into
});

Deno.test("a Sequential with fused and unfused activations computes what the CPU computes", async () => {
  const rng = new Random(8);
  const l1 = new Linear(6, 5, { rng }), l2 = new Linear(5, 3, { rng });
  const net = new Sequential([new Flatten(), l1, new ReLU(), l2, new Sigmoid()]);
  const model = new Model(await testGpu(), net, { inputShape: [1, 2, 3] });
  const x = randomFloats(4 * 6, 9);
  const { logits } = await model.predict(x, 4);
  const dense = (layer: Linear, v: number[]) => {
    const [w, b] = layer.parameters.map((p) => p.data);
    return Array.from(
      { length: layer.outFeatures },
      (_, o) => v.reduce((s, xi, i) => s + xi * w[o * layer.inFeatures + i], b[o]),
    );
  };
  for (let n = 0; n < 4; n++) {
    const row = Array.from(x.subarray(n * 6, n * 6 + 6));
    const want = dense(l2, dense(l1, row).map((v) => Math.max(v, 0))).map(sigmoid);
    for (let k = 0; k < 3; k++) {
      assert(Math.abs(logits[n * 3 + k] - want[k]) < 1e-6, `${logits[n * 3 + k]} vs ${want[k]}`);
    }
  }
});
