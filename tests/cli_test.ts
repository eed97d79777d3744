// The command-line entry points, run as a user runs them (subprocesses of this Deno).
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { decodeSafetensors } from "../lib/io/safetensors.ts";
import { run } from "./_cli.ts";

Deno.test("deno task train leaves metrics.jsonl, loss.svg and model.safetensors; eval reproduces its accuracy", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run("cli/train.ts", [
      "--epochs",
      "1",
      "--subset",
      "1024",
      "--batch-size",
      "64",
      "--activation",
      "relu",
      "--pool",
      "max",
      "--log-every",
      "8",
      "--out",
      dir,
      "--json",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(events.map((e) => e.event), ["start", "step", "step", "epoch", "done"]);
    assertMatch(r.stderr, /adapter: .+\n[^]*Conv2d output shape:\t \[1, 6, 28, 28\]/);
    const metrics = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assertEquals(metrics.length, 1);
    for (
      const key of [
        "epoch",
        "train_loss",
        "test_loss",
        "test_accuracy",
        "train_seconds",
        "eval_seconds",
        "images_per_second",
      ]
    ) {
      assert(Number.isFinite(metrics[0][key]), `${key} = ${metrics[0][key]}`);
    }
    assert(metrics[0].test_accuracy > 0.3, `accuracy ${metrics[0].test_accuracy}`);
    const svg = await Deno.readTextFile(`${dir}/loss.svg`);
    assert(svg.startsWith("<svg") && svg.includes("test accuracy"));
    const file = decodeSafetensors(
      await Deno.readFile(`${dir}/model.safetensors`),
      "model.safetensors",
    );
    assertEquals(Object.keys(file.tensors).length, 10);
    assertEquals(file.tensors["0.weight"].shape, [6, 1, 5, 5]);
    assertEquals(file.metadata.activation, "relu");
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
      "loss.svg",
      "metrics.jsonl",
      "model.safetensors",
      "training_state.safetensors",
    ]);

    const csv = `${dir}/predictions.csv`;
    const e = await run("cli/eval.ts", [
      "--checkpoint",
      `${dir}/model.safetensors`,
      "--json",
      "--predictions",
      csv,
    ]);
    assertEquals(e.code, 0, e.stderr);
    const result = JSON.parse(e.stdout);
    assertEquals(result.test_accuracy, metrics[0].test_accuracy);
    assert(Math.abs(result.test_loss - metrics[0].test_loss) < 1e-5);
    const rows = (await Deno.readTextFile(csv)).trim().split("\n");
    assertEquals(
      rows[0],
      "index,label,predicted," + Array.from({ length: 10 }, (_, k) => `logit_${k}`).join(","),
    );
    assertEquals(rows.length, 10001);
    const correct = rows.slice(1).filter((r) => {
      const [, label, predicted] = r.split(",");
      return label === predicted;
    }).length;
    assertEquals(correct / 10000, result.test_accuracy);
    await Deno.remove(csv);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad flags are usage errors: one line, exit code 2", async () => {
  for (const args of [["--epochs", "0"], ["--pool", "median"], ["--nope"]]) {
    const r = await run("cli/train.ts", args);
    assertEquals(r.code, 2, args.join(" "));
    assertMatch(r.stderr, /^error: .+\nRun `deno task train --help` for the options\.\n$/);
  }
  const r = await run("cli/eval.ts", []);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /^error: --checkpoint FILE is required\n/);
});

Deno.test("a truncated data file is named in a one-line error, without a stack trace", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for await (const f of Deno.readDir("data/fashion-mnist")) {
      await Deno.copyFile(`data/fashion-mnist/${f.name}`, `${dir}/${f.name}`);
    }
    const cut = `${dir}/t10k-labels-idx1-ubyte.gz`;
    const bytes = await Deno.readFile(cut);
    await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 100));
    const r = await run("cli/train.ts", ["--data-dir", dir, "--epochs", "1"]);
    assertEquals(r.code, 1);
    assertMatch(
      r.stderr,
      new RegExp(`^error: ${cut}: gzip data is truncated or corrupt[^\\n]*\\n$`),
    );
    const e = await run("cli/eval.ts", ["--checkpoint", cut]);
    assertEquals(e.code, 1);
    assertMatch(
      e.stderr,
      /^error: .*t10k-labels-idx1-ubyte\.gz: header length \d+ exceeds the file[^\n]*\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval --predictions works on a checkpoint trained with --resize (images resized on the device)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t = await run("cli/train.ts", [
      ...["--epochs", "1", "--subset", "1024", "--batch-size", "64", "--resize", "32"],
      ...["--activation", "relu", "--pool", "max", "--out", dir],
    ]);
    assertEquals(t.code, 0, t.stderr);
    const csv = `${dir}/predictions.csv`;
    const e = await run("cli/eval.ts", [
      ...["--checkpoint", `${dir}/model.safetensors`, "--json", "--predictions", csv],
    ]);
    assertEquals(e.code, 0, e.stderr);
    const result = JSON.parse(e.stdout);
    const rows = (await Deno.readTextFile(csv)).trim().split("\n").slice(1);
    assertEquals(rows.length, 10000);
    const correct = rows.filter((r) => r.split(",")[1] === r.split(",")[2]).length;
    assertEquals(correct / 10000, result.test_accuracy);
    assert(result.test_accuracy > 0.3, `accuracy ${result.test_accuracy}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task summary prints torchinfo's table and, with --json, the same numbers", async () => {
  const r = await run("cli/summary.ts", ["--activation", "relu", "--pool", "max"]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /├─Conv2d: 1-4 +\[1, 16, 10, 10\] +2,416\n/);
  assertMatch(r.stdout, /Total params: 61,706\n[^]*Total mult-adds \(M\): 0\.42\n/);
  const j = await run("cli/summary.ts", ["--json", "--resize", "32"]);
  const s = JSON.parse(j.stdout);
  assertEquals([s.totalParams, s.rows[7].params, s.rows[7].outputShape], [82826, 69240, [1, 120]]);
});
