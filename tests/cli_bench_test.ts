import { assert, assertEquals } from "./_assert.ts";
import { run } from "./_cli.ts";

Deno.test("bench --json prints one object: throughput of both variants and the variant each op got", async () => {
  const cache = await Deno.makeTempDir();
  const args = ["--json", "--batch-size", "16", "--steps", "2", "--reps", "1", "--tune", "off"];
  const { code, stdout, stderr } = await run("cli/bench.ts", args, { XDG_CACHE_HOME: cache });
  assertEquals(code, 0, stderr);
  const report = JSON.parse(stdout);
  assertEquals(report.tune, "off");
  assertEquals(Object.keys(report.variants).sort(), ["relu_max", "sigmoid_avg"]);
  for (const variant of Object.values(report.variants) as Record<string, unknown>[]) {
    assert((variant.train_images_per_second as number) > 0, JSON.stringify(variant));
    assert((variant.eval_images_per_second as number) > 0, JSON.stringify(variant));
    assertEquals(variant.candidates, undefined); // nothing timed without --tune full
  }
  const chosen = report.variants.sigmoid_avg.chosen as Record<string, string>;
  // --tune off on a CPU adapter: the rules, e.g. conv1's forward (its pooling fused in) through
  // one uniform view of the 16 images with a tile of 6 channels × 4 columns.
  assertEquals(
    chosen["conv2d.forward+avgpool2 16x1x28x28→6 k5x5 s1x1 p2x2"],
    "views×1 uniform-weights tile 6x4 + avgpool",
  );
  assert(Object.keys(report.kernels).length > 10, JSON.stringify(report.kernels));
  await Deno.remove(cache, { recursive: true });
});

Deno.test("tools/dispatch_cost.ts: every design it times is a valid dispatch (it fails on a validation error)", async () => {
  const { code, stdout, stderr } = await run("tools/dispatch_cost.ts", []);
  assertEquals(code, 0, stderr);
  // Nine single-dispatch rows in µs, then three designs for each of three view sizes in ms.
  assertEquals(stdout.match(/^\s+\d+\.\d µs {2}\S/gm)?.length, 9, stdout);
  assertEquals(stdout.match(/^\s+\d+\.\d{3} ms {2}(a dispatch|one dispatch)/gm)?.length, 9, stdout);
});
