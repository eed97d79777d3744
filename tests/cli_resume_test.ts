// train --resume DIR: a run continued from its folder ends with the weights of an uninterrupted one.
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { run, spawn } from "./_cli.ts";
import { decodeSafetensors, float32Tensors } from "../lib/io/safetensors.ts";

const base = ["--subset", "1024", "--batch-size", "64", "--activation", "relu", "--pool", "max"];

async function weights(dir: string): Promise<Float32Array> {
  const tensors = float32Tensors(
    decodeSafetensors(await Deno.readFile(`${dir}/model.safetensors`)),
  );
  return Float32Array.from(Object.values(tensors).flatMap((t) => Array.from(t.data)));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assertEquals(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

Deno.test("train --resume continues a finished epoch or a Ctrl-C'd run to the uninterrupted weights", async () => {
  const root = await Deno.makeTempDir();
  const dir = (name: string) => `${root}/${name}`;
  try {
    const whole = await run("cli/train.ts", [...base, "--epochs", "2", "--out", dir("whole")]);
    assertEquals(whole.code, 0, whole.stderr);
    const want = await weights(dir("whole"));

    // One epoch, then one more through --resume.
    const one = await run("cli/train.ts", [...base, "--epochs", "1", "--out", dir("split")]);
    assertEquals(one.code, 0, one.stderr);
    const more = await run("cli/train.ts", ["--resume", dir("split"), "--epochs", "2"]);
    assertEquals(more.code, 0, more.stderr);
    const diff = maxDiff(await weights(dir("split")), want);
    assert(diff <= 1e-4, `after a finished epoch: max |Δw| ${diff}`);
    const metrics = (await Deno.readTextFile(`${dir("split")}/metrics.jsonl`)).trim().split("\n");
    assertEquals(metrics.map((l) => JSON.parse(l).epoch), [1, 2]);
    const reference = (await Deno.readTextFile(`${dir("whole")}/metrics.jsonl`)).trim().split("\n");
    assertEquals(
      metrics.map((l) => JSON.parse(l).test_accuracy),
      reference.map((l) => JSON.parse(l).test_accuracy),
    );

    // Ctrl-C in the middle of epoch 2, then --resume.
    const child = spawn("cli/train.ts", [
      ...base,
      "--epochs",
      "2",
      "--log-every",
      "1",
      "--json",
      "--out",
      dir("cut"),
    ]);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/"step":2[0-9]/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    child.kill("SIGINT");
    while (!(await reader.read()).done);
    const stderr = await new Response(child.stderr).text();
    assertEquals((await child.status).code, 130, stderr);
    const resumed = await run("cli/train.ts", ["--resume", dir("cut"), "--epochs", "2"]);
    assertEquals(resumed.code, 0, resumed.stderr);
    assertMatch(resumed.stdout, /resuming after step \d+/);
    const cut = maxDiff(await weights(dir("cut")), want);
    assert(cut <= 1e-4, `after Ctrl-C: max |Δw| ${cut}`);

    // Flags that would change the run, and an --epochs already reached, are refused.
    const lr = await run("cli/train.ts", [
      "--resume",
      dir("split"),
      "--epochs",
      "3",
      "--lr",
      "0.5",
    ]);
    assertEquals(lr.code, 2);
    assertMatch(lr.stderr, /--lr 0\.5 \(the run has 0\.001\) would change the run/);
    const done = await run("cli/train.ts", ["--resume", dir("split"), "--epochs", "2"]);
    assertEquals(done.code, 2);
    assertMatch(done.stderr, /the run has 2 epochs done, and --epochs \(2\) is the total/);
    const none = await run("cli/train.ts", ["--resume", root, "--epochs", "2"]);
    assertEquals(none.code, 1);
    assertMatch(
      none.stderr,
      /training_state\.safetensors: cannot be read \(no such file or folder\)/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
