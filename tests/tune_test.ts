import { assert, assertEquals } from "./_assert.ts";
import { maxAbs, maxAbsDiff, testGpu } from "./_gpu.ts";
import { fashionMnist, head } from "./_data.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { Model } from "../lib/train/model.ts";
import { trainOnBatch } from "../lib/train/trainer.ts";
import { readFloats } from "../lib/gpu/buffers.ts";
import { CPU_RULES, rulesFor, SWIFTSHADER_PICKS, type Tuning } from "../lib/nn/choose.ts";
import { memoryTuningStore, tune } from "../lib/train/tune.ts";
import { fileTuningStore } from "../deno/tuning_store.ts";
import { run } from "./_cli.ts";

const BATCH = 32;

/** The gradients of one batch of real images under `tuning`, and the variants its plan used. */
async function gradients(activation: "sigmoid" | "relu", pool: "avg" | "max", tuning: Tuning) {
  const ds = await fashionMnist();
  const batch = head(ds.train, BATCH);
  using model = new Model(await testGpu(), lenet5({ activation, pool }), { tuning });
  const images = Float32Array.from(batch.images, (v) => v / 255);
  const loss = await trainOnBatch(model, images, [...batch.labels]);
  const plan = await model.plan(BATCH, "train");
  const ops = [...plan.forward, ...plan.backward].filter((op) => op.tuning);
  return {
    loss,
    grads: await readFloats(model.gpu.device, model.gradientBuffer, 0, model.flatSize),
    variants: Object.fromEntries(ops.map((op) => [op.tuning!.key, op.variant])),
    alternatives: Object.fromEntries(ops.map((op) => [op.tuning!.key, op.tuning!.alternatives])),
  };
}

for (const [activation, pool] of [["sigmoid", "avg"], ["relu", "max"]] as const) {
  // Every variant adds the same products in the same order, so the tuner never changes a result:
  // the accuracy tables hold whatever it picks.
  Deno.test(`every candidate variant of every op gives the rules' gradients bit for bit (${activation} + ${pool})`, async () => {
    const rules = await gradients(activation, pool, CPU_RULES);
    const rounds = Math.max(...Object.values(rules.alternatives).map((a) => a.length));
    assert(rounds > 5, `expected several candidates per op, got ${rounds}`);
    const tried = new Set<string>();
    for (let r = 0; r < rounds; r++) {
      const picks = Object.fromEntries(
        Object.entries(rules.alternatives).map(([key, names]) => [key, names[r % names.length]]),
      );
      const run = await gradients(activation, pool, { picks, defaults: "cpu" });
      for (const [key, variant] of Object.entries(run.variants)) {
        assert(variant.startsWith(picks[key]), `${key}: asked for ${picks[key]}, got ${variant}`);
        tried.add(`${key} ${picks[key]}`);
      }
      const err = maxAbsDiff(run.grads, rules.grads) / maxAbs(rules.grads);
      assert(err === 0, `round ${r}: gradients differ by ${err} (relative)`);
      assertEquals(run.loss, rules.loss, `round ${r}: the loss differs`);
    }
    const total = Object.values(rules.alternatives).reduce((s, a) => s + a.length, 0);
    assertEquals(tried.size, total);
  });
}

Deno.test("tune: full times every candidate and stores the fastest, cached reuses them, off drops them", async () => {
  using model = new Model(await testGpu(), lenet5());
  const store = memoryTuningStore();
  const full = await tune(model, "full", {
    store,
    plans: [{ batch: 16, mode: "train" }],
    reps: 1,
    trials: 1,
  });
  assert(full.timings.length >= 10, `${full.timings.length} ops timed`);
  for (const t of full.timings) {
    assert(Object.keys(t.ms).length > 1, t.key);
    assertEquals(full.tuning.picks[t.key], t.fastest);
  }
  const plan = await model.plan(16, "train");
  for (const op of [...plan.forward, ...plan.backward]) {
    const pick = op.tuning && full.tuning.picks[op.tuning.key];
    if (pick) assert(op.variant.startsWith(pick), `${op.variant} is not the pick ${pick}`);
  }
  using other = new Model(await testGpu(), lenet5());
  const cached = await tune(other, "cached", { store });
  assertEquals(cached.tuning.picks, full.tuning.picks);
  assertEquals(cached.stored, Object.keys(full.tuning.picks).length);
  assertEquals((await tune(other, "off", { store })).tuning, CPU_RULES);
  assertEquals(other.tuning, CPU_RULES);
});

Deno.test("train --tune full writes the picks to the user cache; --tune cached reads them back", async () => {
  const cache = await Deno.makeTempDir();
  const env = { XDG_CACHE_HOME: cache };
  const common = ["--subset", "256", "--batch-size", "64", "--epochs", "1"];
  const full = await run("cli/train.ts", [...common, "--tune", "full", "--out", `${cache}/a`], env);
  assertEquals(full.code, 0, full.stderr);
  assert(/tuning: \d+ ops timed/.test(full.stdout), full.stdout);
  const stored = await fileTuningStore(`${cache}/lenet-webgpu/tuning.json`).load(
    Object.keys(
      JSON.parse(await Deno.readTextFile(`${cache}/lenet-webgpu/tuning.json`)).adapters,
    )[0],
  );
  assert(
    Object.keys(stored).some((k) => /^conv2d\.forward\S* 64x1x28x28/.test(k)),
    JSON.stringify(stored),
  );
  const cached = await run("cli/train.ts", [...common, "--out", `${cache}/b`], env);
  assertEquals(cached.code, 0, cached.stderr);
  assert(/tuning: \d+ stored picks for this adapter/.test(cached.stdout), cached.stdout);
  const bad = await run("cli/train.ts", [...common, "--tune", "fast", "--out", `${cache}/c`], env);
  assertEquals(bad.code, 2);
  assert(/--tune expects one of off, cached, full, got "fast"/.test(bad.stderr), bad.stderr);
  await Deno.remove(cache, { recursive: true });
});

Deno.test("SwiftShader's built-in picks are all taken by the page's plan (ReLU + max, batches of 64)", async () => {
  const tuning = rulesFor({ isFallbackAdapter: true, architecture: "swiftshader" });
  using model = new Model(await testGpu(), lenet5({ activation: "relu", pool: "max" }), { tuning });
  const plan = await model.plan(64, "train");
  const taken = new Map<string, string>();
  for (const op of [...plan.forward, ...plan.backward]) {
    if (op.tuning) taken.set(op.tuning.key, op.variant);
  }
  // A key or variant the kernel tables no longer make would silently fall back to the rules.
  for (const [key, pick] of Object.entries(SWIFTSHADER_PICKS)) {
    assert(
      taken.get(key)?.startsWith(pick),
      `${key}: picked ${pick}, the plan runs ${taken.get(key)}`,
    );
  }
  assertEquals(taken.size, Object.keys(SWIFTSHADER_PICKS).length);
});
