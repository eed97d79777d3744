// The parts of a modern recipe, against what PyTorch 1.13 computes (tests/fixtures/recipe_pytorch.json,
// from tools/make_recipe_fixtures.py): learning-rate schedules per step, AdamW, label smoothing.
import { assert, assertEquals, assertMatch, assertRejects } from "./_assert.ts";
import { run } from "./_cli.ts";
import { runKernel, testGpu } from "./_gpu.ts";
import { fashionMnist, head } from "./_data.ts";
import { adamUpdate } from "../kernels/optim.ts";
import { softmaxCrossEntropy } from "../kernels/loss.ts";
import { AdamW } from "../lib/train/optimizer.ts";
import { scheduledLr } from "../lib/train/schedule.ts";
import { lenet5, Model, train } from "../mod.ts";
import { decodeSafetensors, float32Tensors } from "../lib/io/safetensors.ts";
import { permutation, Random } from "../lib/random.ts";
import { holdOut } from "../lib/train/validation.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/recipe_pytorch.json", import.meta.url)),
);

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

Deno.test("schedules give torch.optim.lr_scheduler's rate at every step", () => {
  const steps = 40;
  const schedules = {
    warmup_cosine: { kind: "cosine", warmupSteps: 8, warmupStart: 0.1, minLr: 1e-5 },
    cosine: { kind: "cosine", minLr: 1e-5 },
    onecycle: { kind: "onecycle" },
  } as const;
  for (const [name, schedule] of Object.entries(schedules)) {
    const torch: number[] = fixture.schedules[name];
    for (let t = 0; t < steps; t++) {
      const ours = scheduledLr(schedule, 0.01, t, steps);
      assert(relative(ours, torch[t]) < 1e-9, `${name} step ${t}: ${ours} vs ${torch[t]}`);
    }
  }
});

/** AdamW with its per-step scalars exposed, to drive the kernel as the optimiser does. */
class ProbeAdamW extends AdamW {
  stepScalars(t: number): Float32Array {
    return this.scalars(t);
  }
}

Deno.test("AdamW matches torch.optim.AdamW over three steps (decoupled weight decay)", async () => {
  const { lr, weight_decay: weightDecay, p0, grads, after } = fixture.adamw;
  const opt = new ProbeAdamW({ lr, weightDecay });
  const n = p0.length;
  let p: Float32Array = Float32Array.from(p0), m: Float32Array = new Float32Array(n);
  let v: Float32Array = new Float32Array(n);
  const kernel = adamUpdate(n, {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay,
    decoupled: true,
  });
  for (let t = 1; t <= 3; t++) {
    [p, m, v] = await runKernel(kernel, [
      p,
      Float32Array.from(grads[t - 1]),
      m,
      v,
      opt.stepScalars(t),
    ]);
    const want: number[] = after[t - 1];
    const worst = want.reduce((w, x, i) => Math.max(w, Math.abs(x - p[i])), 0);
    assert(worst < 1e-6, `step ${t}: ${worst}`);
  }
});

Deno.test("label smoothing: CrossEntropyLoss(label_smoothing=0.1)'s loss and gradient", async () => {
  const { epsilon, logits, labels, loss, grad } = fixture.label_smoothing;
  const batch = labels.length, classes = logits[0].length;
  const k = softmaxCrossEntropy({ batch, classes, gradient: true, labelSmoothing: epsilon });
  const [rowLoss, , dlogits] = await runKernel(k, [
    Float32Array.from(logits.flat()),
    Uint32Array.from(labels),
    batch,
    batch,
    batch * classes,
  ]);
  const mean = rowLoss.reduce((a, b) => a + b, 0) / batch;
  assert(Math.abs(mean - loss) < 1e-6, `${mean} vs ${loss}`);
  const worst = grad.flat().reduce(
    (w: number, x: number, i: number) => Math.max(w, Math.abs(x - dlogits[i])),
    0,
  );
  assert(worst < 1e-7, `gradient differs by ${worst}`);
});

Deno.test("train() applies a schedule step by step, then gives the optimiser its rate back", async () => {
  const data = await fashionMnist();
  using model = new Model(await testGpu(), lenet5({ activation: "relu", pool: "max" }));
  const optimizer = new AdamW({ lr: 2e-3 });
  const schedule = { kind: "onecycle" } as const;
  const seen: number[] = [];
  const history = await train(model, { train: head(data.train, 512) }, {
    epochs: 2,
    batchSize: 64,
    optimizer,
    schedule,
    labelSmoothing: 0.1,
    onStep: () => void seen.push(optimizer.lr),
  });
  assertEquals(seen, seen.map((_, t) => scheduledLr(schedule, 2e-3, t, 16)));
  assertEquals(optimizer.lr, 2e-3);
  assert(history.epochs[1].train_loss < history.epochs[0].train_loss);
  await assertRejects(
    () => train(model, { train: head(data.train, 64) }, { labelSmoothing: 1.5 }),
    RangeError,
    "labelSmoothing",
  );
  await assertRejects(
    () =>
      train(model, { train: head(data.train, 64) }, {
        epochs: 1,
        batchSize: 64,
        schedule: { kind: "cosine", warmupSteps: 5 },
      }),
    RangeError,
    "warmupSteps",
  );
  optimizer.dispose();
});

Deno.test("recipes: train()'s recipe option fills what is not given; bad names and settings are refused", async () => {
  const data = await fashionMnist();
  using model = new Model(await testGpu(), lenet5({ activation: "relu", pool: "max" }));
  const seen: number[] = [];
  const history = await train(model, { train: head(data.train, 512) }, {
    recipe: "modern",
    epochs: 2,
    batchSize: 64,
    onStep: (e) => void seen.push(e.step),
  });
  assertEquals(history.epochs.length, 2);
  assertEquals(seen.length, 16);
  await assertRejects(
    // deno-lint-ignore no-explicit-any
    () => train(model, { train: head(data.train, 64) }, { recipe: "fancy" as any }),
    RangeError,
    "the recipes are reference, modern",
  );
  await assertRejects(
    () =>
      train(model, { train: head(data.train, 64) }, {
        epochs: 1,
        augment: { seed: 0, cropPadding: 20, flip: false },
      }),
    RangeError,
    "cropPadding",
  );
});

Deno.test("train flags: an unknown recipe lists the known ones; bad validation, augmentation, smoothing and schedule settings are named", async () => {
  const cases: [string[], RegExp][] = [
    [["--recipe", "fancy"], /--recipe expects one of reference, modern, got "fancy"/],
    [
      ["--validation", "59990"],
      /--validation 59990 leaves 10 of 60000 training images, less than one batch of 256/,
    ],
    [["--augment", "crop,blur"], /--augment expects none or a comma list of crop, flip, erase/],
    [["--label-smoothing", "2"], /--label-smoothing expects a number .*at most 1/],
    [["--warmup-steps", "10"], /--warmup-steps applies to --schedule cosine only/],
    [["--schedule", "step"], /--schedule expects one of constant, cosine, onecycle/],
    [["--lr", "NaN"], /--lr expects a number/],
  ];
  for (const [args, message] of cases) {
    const r = await run("cli/train.ts", [...args, "--epochs", "1"]);
    assertEquals(r.code, 2, `${args}: ${r.stderr}`);
    assertMatch(r.stderr, message);
  }
});

Deno.test("tools/twin_inputs.ts writes what a run draws: its initial weights, held-out rows and batch orders", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/twin.safetensors`;
    const seed = 3, held = 59_000; // 1,000 training images left: one quick epoch
    const r = await run("tools/twin_inputs.ts", [
      ...["--seed", String(seed), "--epochs", "2", "--validation", String(held), "--out", file],
    ]);
    assertEquals(r.code, 0, r.stderr);
    const t = float32Tensors(decodeSafetensors(await Deno.readFile(file)));
    const net = lenet5({ activation: "relu", pool: "max", seed });
    for (const p of net.namedParameters()) assertEquals(t[p.qualifiedName].data, p.data);
    // The held-out rows are the images holdOut holds out (it keeps them in their original order).
    const data = await fashionMnist();
    const split = holdOut(data.train, held, seed);
    const rows = Array.from(t.held_out.data).sort((a, b) => a - b);
    assertEquals(rows.map((row) => data.train.labels[row]), [...split.validation.labels]);
    const px = 28 * 28, last = rows[rows.length - 1];
    assertEquals(
      data.train.images.subarray(last * px, (last + 1) * px),
      split.validation.images.subarray((held - 1) * px, held * px),
    );
    // Epoch 1's order is the first shuffle of the trainer's generator, and its only draw.
    const rng = new Random(seed);
    assertEquals(t["order.1"].data, Float32Array.from(permutation(1000, rng)));
    using model = new Model(await testGpu(), net);
    const history = await train(model, { train: split.train }, {
      recipe: "modern",
      epochs: 1,
      seed,
    });
    assertEquals(history.progress.rng, rng.state());
    assertEquals(t["order.2"].data, Float32Array.from(permutation(1000, rng)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
