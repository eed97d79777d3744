// deno task predict on pictures made the way a phone photo comes: large, colour, dark on light.
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { run } from "./_cli.ts";
import { fashionMnist } from "./_data.ts";
import { jpegBytes, pgmBytes, photo, pngBytes } from "./_photos.ts";

Deno.test("predict: photos of test images get the classes the test images themselves get", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t = await run("cli/train.ts", [
      ...["--epochs", "1", "--subset", "8192", "--batch-size", "64"],
      ...["--activation", "relu", "--pool", "max", "--out", dir],
    ]);
    assertEquals(t.code, 0, t.stderr);
    const checkpoint = `${dir}/model.safetensors`;
    const { test } = await fashionMnist();
    const picks = [1, 2, 3, 7, 11, 15];
    const encoders = [pngBytes, jpegBytes, pgmBytes];
    const files: string[] = [];
    for (const [k, n] of picks.entries()) {
      const file = `${dir}/photo${n}.${["png", "jpg", "pgm"][k % 3]}`;
      await Deno.writeFile(
        file,
        encoders[k % 3](photo(test.images.subarray(n * 784, (n + 1) * 784), 16, n)),
      );
      files.push(file);
    }
    const photos = await run("cli/predict.ts", ["--checkpoint", checkpoint, "--json", ...files]);
    assertEquals(photos.code, 0, photos.stderr);
    const lines = photos.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.map((l) => l.input), files);
    for (const line of lines) {
      assertEquals(line.inverted, true);
      assertEquals(line.top.length, 3);
      assert(line.top[0].probability >= line.top[1].probability);
      assertMatch(line.top[0].class, /^[A-Z]/);
    }
    let agree = 0;
    for (const [k, n] of picks.entries()) {
      const direct = await run("cli/predict.ts", [
        "--checkpoint",
        checkpoint,
        "--json",
        "--index",
        String(n),
      ]);
      assertEquals(direct.code, 0, direct.stderr);
      const truth = JSON.parse(direct.stdout);
      assertEquals(truth.true_label, test.labels[n]);
      if (truth.top[0].label === lines[k].top[0].label) agree++;
    }
    console.log(`photos predicted as their test images: ${agree} of ${picks.length}`);
    assert(agree >= picks.length - 1, `${agree} of ${picks.length}`);

    const text = await run("cli/predict.ts", [
      "--checkpoint",
      checkpoint,
      "--invert",
      "no",
      files[0],
    ]);
    assertMatch(text.stdout, /photo1\.png: \w.* \d+\.\d%.*not negated \(--invert no\)/);
    await Deno.writeTextFile(`${dir}/notes.png`, "not a picture");
    const bad = await run("cli/predict.ts", [
      "--checkpoint",
      checkpoint,
      files[1],
      `${dir}/notes.png`,
    ]);
    assertEquals(bad.code, 1);
    assertMatch(bad.stderr, /^error: .*notes\.png: not a PNG, JPEG or PGM image\n$/);
    const truncated = `${dir}/cut.png`;
    await Deno.writeFile(truncated, (await Deno.readFile(files[0])).subarray(0, 200));
    const cut = await run("cli/predict.ts", ["--checkpoint", checkpoint, truncated]);
    assertEquals(cut.code, 1);
    assertMatch(cut.stderr, /^error: .*cut\.png: not a valid PNG image/);
    const none = await run("cli/predict.ts", ["--checkpoint", checkpoint]);
    assertEquals(none.code, 2);
    assertMatch(none.stderr, /give one or more IMAGE files, or --index N/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
