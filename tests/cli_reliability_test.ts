// Bad input and faults through the commands: a non-zero exit with one line naming the problem,
// no stack trace, and no file changed that the run had no right to change.
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { run, spawn } from "./_cli.ts";
import { encodeSafetensors } from "../lib/io/safetensors.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { loadCheckpoint } from "../lib/io/checkpoint.ts";
import { Model } from "../lib/train/model.ts";
import { testGpu } from "./_gpu.ts";
import { fashionMnist } from "./_data.ts";
import { pngBytes } from "./_photos.ts";

/** One line on stderr, starting `error: `, matching `pattern`; no stack trace. */
function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n").filter((l) => !l.startsWith("Run `deno task"));
  assertEquals(lines.length, 1, stderr);
  assertMatch(lines[0], /^error: /);
  assertMatch(lines[0], pattern);
  assert(!/\n\s+at /.test(stderr), "no stack trace");
}

/** A LeNet-5 checkpoint built on the CPU (initial weights), with `metadata`. */
async function checkpoint(path: string, metadata: Record<string, string>, poison = false) {
  const net = lenet5({ activation: metadata.activation === "relu" ? "relu" : "sigmoid" });
  const tensors = Object.fromEntries(
    net.namedParameters().map((p) => [p.qualifiedName, { shape: p.shape, data: p.data.slice() }]),
  );
  if (poison) tensors["3.weight"].data[7] = NaN;
  await Deno.writeFile(path, encodeSafetensors(tensors, metadata));
}

const quick = ["--epochs", "1", "--subset", "256", "--batch-size", "64"];

Deno.test("flags: negative numbers, seeds past 32 bits and batches past the adapter's limit are named", async () => {
  const cases: [string[], RegExp][] = [
    [["--epochs", "-1"], /--epochs expects an integer of at least 1, got "-1"/],
    [["--seed", "4294967296"], /--seed expects an integer of at least 0 and at most 4294967295/],
    [
      ["--batch-size", "100000"],
      /--batch-size 100000 needs buffers larger than .* \d+ or less fits/,
    ],
    [["--resize", "224"], /--batch-size 256 with --resize 224 needs buffers .* \d+ or less fits/],
    // A schedule the run's steps cannot hold, named by its flags before any data is read.
    [
      ["--schedule", "onecycle", "--epochs", "1", "--subset", "100", "--batch-size", "50"],
      /--schedule onecycle needs a run of at least 4 steps .* 2 steps \(--epochs 1 × 2 batches/,
    ],
    [
      ["--schedule", "cosine", "--warmup-steps", "40", "--epochs", "2", "--subset", "1000"],
      /--warmup-steps 40 must be below the run's 8 steps \(--epochs 2 × 4 batches/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const dir = await Deno.makeTempDir();
    const r = await run("cli/train.ts", [...args, "--out", `${dir}/run`]);
    assertEquals(r.code, 2, `${args}: ${r.stderr}`);
    oneLine(r.stderr, pattern);
    if (args[0] === "--schedule") {
      assert(!(await Deno.stat(`${dir}/run`).then(() => true, () => false)), "nothing written");
    }
    await Deno.remove(dir, { recursive: true });
  }
  const e = await run("cli/eval.ts", ["--checkpoint", "x", "--batch-size", "-5"]);
  assertEquals(e.code, 2);
  oneLine(e.stderr, /--batch-size expects an integer of at least 1, got "-5"/);
});

Deno.test("train --out: an earlier run is kept unless --overwrite, a running one is never shared, an unwritable one fails first", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await run("cli/train.ts", [...quick, "--out", dir]);
    assertEquals(first.code, 0, first.stderr);
    const weights = await Deno.readFile(`${dir}/model.safetensors`);
    const again = await run("cli/train.ts", [...quick, "--seed", "5", "--out", dir]);
    assertEquals(again.code, 2);
    oneLine(
      again.stderr,
      /already holds a run \(metrics\.jsonl, loss\.svg, model\.safetensors, training_state\.safetensors\): pass --overwrite/,
    );
    assertEquals(
      await Deno.readFile(`${dir}/model.safetensors`),
      weights,
      "the earlier run is untouched",
    );
    // A live run's lock (held here, as a running train holds it) keeps a second run out.
    const held = await Deno.open(`${dir}/.lock`, { write: true, create: true });
    assert(await held.tryLock(true));
    await held.write(new TextEncoder().encode(`${Deno.pid}\n`));
    const locked = await run("cli/train.ts", [...quick, "--out", dir, "--overwrite"]);
    held.close();
    assertEquals(locked.code, 2);
    oneLine(locked.stderr, new RegExp(`in use by another run \\(process ${Deno.pid}\\)`));
    // A lock file left by a run that is gone (nobody holds its lock) is taken over.
    await Deno.writeTextFile(`${dir}/.lock`, "999999999\n");
    const over = await run("cli/train.ts", [...quick, "--seed", "5", "--out", dir, "--overwrite"]);
    assertEquals(over.code, 0, over.stderr);
    assert(
      JSON.stringify(await Deno.readFile(`${dir}/model.safetensors`)) !== JSON.stringify(weights),
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "loss.svg",
      "metrics.jsonl",
      "model.safetensors",
      "training_state.safetensors",
    ]);
    const proc = await run("cli/train.ts", [...quick, "--out", "/proc/lenet-webgpu-test"]);
    assertEquals(proc.code, 2);
    oneLine(proc.stderr, /--out \/proc\/lenet-webgpu-test: cannot create the folder \([a-z ]+\)$/);
    assert(!proc.stderr.includes("--allow-all"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SIGTERM while the kernels compile stops when the compile in progress returns, saying so", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const child = spawn("cli/train.ts", [...quick, "--out", dir]);
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("compiling the training step's kernels (batch 64)…")) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    const signalled = performance.now();
    child.kill("SIGTERM");
    while (!(await lines.read()).done);
    const stderr = await new Response(child.stderr).text();
    const { code } = await child.status;
    const seconds = (performance.now() - signalled) / 1000;
    assertEquals(code, 143, stderr);
    // Kernels compile one at a time with a turn of the event loop between two: the signal is
    // handled there, in the compile phase, not after the compiles (and a step, and an epoch).
    assertMatch(
      stderr,
      /SIGTERM: stopped while compiling the (training step|evaluation)'s kernels/,
    );
    assert(seconds < 20, `stopped ${seconds.toFixed(1)} s after the signal`);
    assert(!(await Deno.stat(`${dir}/.lock`).then(() => true, () => false)), "the lock is gone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`${signal} during training stops after the step, saves complete files and exits ${code}`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const child = spawn("cli/train.ts", [
        ...["--epochs", "3", "--subset", "4096", "--batch-size", "64", "--log-every", "1"],
        ...["--json", "--out", dir],
      ]);
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes(`"event":"step"`)) {
        const { value, done } = await lines.read();
        if (done) break;
        text += value;
      }
      child.kill(signal);
      // Keep reading stdout to its end: the run still reports as it stops.
      while (!(await lines.read()).done);
      const stderr = await new Response(child.stderr).text();
      assertEquals((await child.status).code, code, stderr);
      const model = new Model(await testGpu(), lenet5());
      const meta = loadCheckpoint(model, await Deno.readFile(`${dir}/model.safetensors`), "saved");
      model.dispose();
      // Stopped in the middle of epoch 1: the file says what its weights are, and claims no
      // accuracy for them (epoch 1's was never measured).
      assertEquals([meta.epochs, meta.test_accuracy], ["0", ""]);
      assertMatch(
        meta.interrupted,
        /^in epoch 1 after \d+ of 64 batches: these weights were not evaluated$/,
      );
      assert(Number(meta.step) >= 1);
      assert((await Deno.readTextFile(`${dir}/loss.svg`)).includes("</svg>"));
      assertEquals([...Deno.readDirSync(dir)].some((e) => e.name === ".lock"), false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a diverging run (--lr 1e30) stops at the step where the loss became NaN, keeping no NaN weights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run("cli/train.ts", [
      ...["--lr", "1e30", "--activation", "relu", "--pool", "max"],
      ...["--epochs", "2", "--subset", "2048", "--batch-size", "64", "--out", dir],
    ]);
    assertEquals(r.code, 1);
    oneLine(
      r.stderr,
      /training stopped: the training loss became (NaN|-?Infinity) at step \d+ \(epoch 1\).*; no weights were saved/,
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval: checkpoint metadata is checked, flags must agree with it, broken weights are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = (name: string) => `${dir}/${name}`;
    await checkpoint(file("relu.safetensors"), {
      activation: "relu",
      pool: "max",
      input_size: "28",
    });
    await checkpoint(file("bare.safetensors"), {});
    await checkpoint(file("swish.safetensors"), { activation: "swish", pool: "avg" });
    await checkpoint(file("size.safetensors"), {
      activation: "relu",
      pool: "max",
      input_size: "28.5",
    });
    await checkpoint(file("nan.safetensors"), { activation: "sigmoid", pool: "avg" }, true);
    const cases: [string[], number, RegExp][] = [
      [
        ["--checkpoint", file("relu.safetensors"), "--activation", "sigmoid"],
        2,
        /--activation sigmoid disagrees with .*relu\.safetensors, which was saved with activation relu/,
      ],
      [
        ["--checkpoint", file("swish.safetensors")],
        1,
        /swish\.safetensors: metadata activation is "swish", expected sigmoid or relu or tanh/,
      ],
      [
        ["--checkpoint", file("size.safetensors")],
        1,
        /size\.safetensors: metadata input_size is "28\.5"/,
      ],
      [
        ["--checkpoint", file("nan.safetensors")],
        1,
        /nan\.safetensors: tensor "3\.weight" has 1 non-finite value .*--allow-nonfinite/,
      ],
      [
        ["--checkpoint", file("relu.safetensors"), "--predictions", file("relu.safetensors")],
        2,
        /relu\.safetensors, which this command reads: choose another file/,
      ],
      [
        ["--checkpoint", file("relu.safetensors"), "--predictions", "/nonexistent/dir/p.csv"],
        2,
        /--predictions \/nonexistent\/dir\/p\.csv: the folder \/nonexistent\/dir does not exist/,
      ],
      [
        ["--checkpoint", file("relu.safetensors"), "--out", file("relu.safetensors")],
        2,
        /--out .*relu\.safetensors is a file, not a folder/,
      ],
      [
        ["--checkpoint", file("relu.safetensors"), "--batch-size", "100000"],
        2,
        /--batch-size 100000 needs buffers larger/,
      ],
    ];
    const before = await Deno.readFile(file("relu.safetensors"));
    for (const [args, code, pattern] of cases) {
      const r = await run("cli/eval.ts", args);
      assertEquals(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      oneLine(r.stderr, pattern);
    }
    assertEquals(
      await Deno.readFile(file("relu.safetensors")),
      before,
      "the checkpoint is untouched",
    );
    // A file that does not say its architecture is taken as the reference's; a note says so.
    const bare = await run("cli/eval.ts", ["--checkpoint", file("bare.safetensors"), "--json"]);
    assertEquals(bare.code, 0, bare.stderr);
    assertMatch(
      bare.stderr,
      /^note: .*bare\.safetensors does not say its activation or pool \(a PyTorch state_dict\?\): assuming the reference's activation sigmoid and pool avg; pass --activation and --pool otherwise\n$/,
    );
    assertEquals(JSON.parse(bare.stdout).activation, "sigmoid");
    const ok = await run("cli/eval.ts", [
      "--checkpoint",
      file("bare.safetensors"),
      "--activation",
      "relu",
      "--pool",
      "max",
      "--json",
    ]);
    assertEquals(ok.code, 0, ok.stderr);
    const nan = await run("cli/eval.ts", [
      "--checkpoint",
      file("nan.safetensors"),
      "--allow-nonfinite",
      "--json",
    ]);
    assertEquals(nan.code, 0, nan.stderr);
    // Nothing made of NaN logits is reported as a number: no accuracy, no counts.
    const report = JSON.parse(nan.stdout);
    assertEquals([report.test_accuracy, report.test_loss], [null, null]);
    assert(report.per_class_accuracy.every((v: unknown) => v === null), nan.stdout);
    assert(report.confusion_matrix.flat().every((v: unknown) => v === null), nan.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval needs only the test files; a FIFO as checkpoint fails at once; a bad backend is named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for await (const f of Deno.readDir("data/fashion-mnist")) {
      const bytes = f.name.startsWith("train")
        ? new Uint8Array(100) // damaged training files
        : await Deno.readFile(`data/fashion-mnist/${f.name}`);
      await Deno.writeFile(`${dir}/${f.name}`, bytes);
    }
    const ckpt = `${dir}/m.safetensors`;
    await checkpoint(ckpt, { activation: "sigmoid", pool: "avg" });
    const r = await run("cli/eval.ts", ["--checkpoint", ckpt, "--data-dir", dir, "--json"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout).count, 10000);
    const fifo = `${dir}/fifo`;
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    const f = await run("cli/eval.ts", ["--checkpoint", fifo]);
    assertEquals(f.code, 1);
    oneLine(f.stderr, /fifo: not a regular file/);
    const b = await run("cli/eval.ts", ["--checkpoint", ckpt], { DENO_WEBGPU_BACKEND: "vulkn" });
    assertEquals(b.code, 1);
    oneLine(b.stderr, /DENO_WEBGPU_BACKEND=vulkn names no WebGPU backend/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without XDG_RUNTIME_DIR the commands print no loader warning", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await checkpoint(`${dir}/m.safetensors`, { activation: "sigmoid", pool: "avg" });
    const env: Record<string, string> = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
    for (const key of ["HOME", "DENO_DIR", "DENO_WEBGPU_BACKEND"]) {
      const v = Deno.env.get(key);
      if (v) env[key] = v;
    }
    const r = await run(
      "cli/eval.ts",
      ["--checkpoint", `${dir}/m.safetensors`, "--json"],
      env,
      true,
    );
    assertEquals(r.code, 0, r.stderr);
    assert(!r.stderr.includes("XDG_RUNTIME_DIR"), r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an output never lands on an input, a run's file, a FIFO or a device; - is standard output", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = `${dir}/m.safetensors`;
    await checkpoint(model, { activation: "relu", pool: "max" });
    // A picture whose name ends .svg, as an explanation's would (predict sniffs the content).
    const picture = `${dir}/shoe.svg`;
    const { test } = await fashionMnist();
    await Deno.writeFile(
      picture,
      pngBytes({ width: 28, height: 28, data: grey(test.images.subarray(0, 784)) }),
    );
    const pictureBefore = await Deno.readFile(picture);
    // A training run's folder, through a link and `..`.
    const runDir = `${dir}/runs/x`;
    await Deno.mkdir(runDir, { recursive: true });
    await Deno.writeTextFile(`${runDir}/training_state.safetensors`, "state");
    await Deno.symlink(runDir, `${dir}/latest`);
    await new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).output();
    const cases: [string, string[], RegExp][] = [
      [
        "cli/predict.ts",
        ["--checkpoint", model, "--explain", dir, picture],
        /--explain .*shoe\.svg is .*shoe\.svg, which this command reads/,
      ],
      [
        "cli/eval.ts",
        ["--checkpoint", model, "--predictions", `${dir}/latest/training_state.safetensors`],
        /is a file of the training run in/,
      ],
      [
        "cli/eval.ts",
        ["--checkpoint", model, "--predictions", `${runDir}/../x/model.safetensors`],
        /is a file of the training run in/,
      ],
      [
        "cli/eval.ts",
        ["--checkpoint", model, "--predictions", `${dir}/runs/../m.safetensors`],
        /which this command reads/,
      ],
      [
        "cli/export.ts",
        ["--checkpoint", model, "--out", `${dir}/pipe`],
        /--out .*pipe is not a regular file \(a FIFO, device or socket\): for standard output give -/,
      ],
      [
        "cli/export.ts",
        ["--checkpoint", model, "--out", "/dev/full"],
        /--out \/dev\/full: (cannot use the folder \/dev|is not a regular file)/,
      ],
      [
        "cli/eval.ts",
        ["--checkpoint", model, "--predictions", "-", "--json"],
        /--predictions - and --json both write to standard output/,
      ],
    ];
    for (const [script, args, message] of cases) {
      const r = await run(script, args);
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      oneLine(r.stderr, message);
    }
    assertEquals(await Deno.readFile(picture), pictureBefore);
    assertEquals(await Deno.readTextFile(`${runDir}/training_state.safetensors`), "state");
    assert((await Deno.lstat(`${dir}/pipe`)).isFifo, "the FIFO is still a FIFO");

    // `-` writes the ONNX graph to standard output, the report to standard error.
    const piped = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "cli/export.ts", "--checkpoint", model, "--out", "-"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(piped.code, 0, new TextDecoder().decode(piped.stderr));
    assert(new TextDecoder().decode(piped.stdout).includes("MaxPool"), "the graph on stdout");
    assertMatch(new TextDecoder().decode(piped.stderr), /-: LeNet-5 \(relu, max pooling\) as ONNX/);

    // What a writer killed mid-way (kill -9) left beside its output is cleared by the next one.
    const stale = `${dir}/m.onnx.0a1b2c3d.tmp`;
    await Deno.writeTextFile(stale, "a complete graph nobody renamed");
    const exported = await run("cli/export.ts", ["--checkpoint", model, "--out", `${dir}/m.onnx`]);
    assertEquals(exported.code, 0, exported.stderr);
    assert(!(await Deno.stat(stale).then(() => true, () => false)), "the stale temp file is gone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Grey pixels as RGBA. */
function grey(pixels: Uint8Array): Uint8Array {
  return Uint8Array.from(
    { length: pixels.length * 4 },
    (_, i) => (i % 4 === 3 ? 255 : pixels[i >> 2]),
  );
}
