// The golden files match what the code generates: the step plans of both LeNet variants, every
// op's candidates, the WGSL of the kernels the rules pick, and the SHA-256 of every other kernel
// the tuner may pick. Runs without a WebGPU adapter
// (the adapter is removed before anything runs). `deno task golden` regenerates them.
import { assert, assertEquals } from "./_assert.ts";
import { fileURLToPath } from "node:url";
import { candidateKernels, GOLDEN_DIR, goldenFiles, MANIFEST } from "./_golden.ts";
import { gatherBatch } from "../kernels/batch.ts";
import { kernelSource } from "../kernels/spec.ts";
import { createHash } from "node:crypto";

Object.defineProperty(navigator, "gpu", { value: undefined, configurable: true });

const dir = fileURLToPath(new URL(`../${GOLDEN_DIR}/`, import.meta.url));

async function committed(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (sub: string) => {
    for await (const e of Deno.readDir(`${dir}${sub}`)) {
      const path = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory) await walk(path);
      else out.set(path, await Deno.readTextFile(`${dir}${path}`));
    }
  };
  await walk("");
  return out;
}

Deno.test("golden: the plans, candidates and kernels are the committed ones (no GPU needed)", async () => {
  const expected = await committed();
  const actual = goldenFiles();
  const stale = [...expected.keys()].filter((p) => !actual.has(p));
  const missing = [...actual.keys()].filter((p) => !expected.has(p));
  const changed = [...actual.keys()].filter((p) =>
    expected.has(p) && expected.get(p) !== actual.get(p)
  );
  assertEquals(
    { stale, missing, changed },
    { stale: [], missing: [], changed: [] },
    "run `deno task golden` and review the diff",
  );
});

Deno.test("golden: the plans name the rules' variants and every op's candidates", () => {
  const files = goldenFiles();
  const plan = files.get("plans/sigmoid_avg_train.txt")!;
  assertEquals(/conv2d\.forward +views×13 uniform-weights tile 6x4 \+ avgpool /.test(plan), true);
  const candidates = files.get("plans/relu_max_train.candidates.txt")!;
  assertEquals(candidates.includes("  storage tile 4x8\n"), true);
  assertEquals([...files.keys()].some((p) => p.startsWith("kernels/relu_max/")), true);
});

Deno.test("golden: a change to a candidate kept only in the manifest still fails the test", () => {
  const files = goldenFiles();
  const manifest = files.get(MANIFEST)!.trim().split("\n");
  const { kernels, picked } = candidateKernels();
  // Every candidate is a file or a manifest line, never both.
  assertEquals(manifest.length + picked.size, kernels.size);
  const [hash, path] = manifest[0].split("  ");
  assert(!files.has(path) && kernels.has(path) && /^[0-9a-f]{64}$/.test(hash));
  const edited = kernels.get(path)!.replace("let i =", "let  i =");
  const again = createHash("sha256").update(edited).digest("hex");
  assert(again !== hash, "an edited kernel would keep its manifest line");
});

Deno.test("golden: the forward pass written at the top of plan.ts is the one built", async () => {
  const doc = await Deno.readTextFile(new URL("../lib/train/plan.ts", import.meta.url));
  const forward = doc.slice(doc.indexOf("forward   "), doc.indexOf("loss      "));
  // Every tensor the doc names, with its shape, in order: x[B,1,28,28], h1[B,6,28,28], ...
  const named = [...forward.matchAll(/(\w+)\[B,([\d,]+)\]/g)].map((m) => `${m[1]}[256,${m[2]}]`);
  const plan = goldenFiles().get("plans/sigmoid_avg_train.txt")!;
  const forwardRows = plan.split("\n").filter((line) => /\.forward /.test(line)).join("\n");
  const built = [...forwardRows.matchAll(/(\w+)\[([\d,]+)\]/g)].map((m) => `${m[1]}[${m[2]}]`);
  assertEquals([...new Set(named)], [...new Set(built)]);
  // And the layers and fusions it names: conv 0 (+sigmoid 1, +avgpool 2), ...
  for (const m of forward.matchAll(/(conv|linear) (\d+)(?: \(([^)]*)\))?/g)) {
    const fused = (m[3] ?? "").split(", ").filter(Boolean).map((f) => f.replace(/^\+/, ""));
    const layer = `${m[2]} ${m[1] === "conv" ? "Conv2d" : "Linear"}`;
    const row = plan.split("\n").find((line) => line.startsWith(layer) && /\.forward /.test(line));
    assert(row, `${layer}: no forward op`);
    for (const f of fused) {
      const [kind] = f.split(" ");
      const name = { sigmoid: "Sigmoid", avgpool: "AvgPool2d" }[kind];
      assert(row.includes(`+ ${name}`), `${layer} fuses ${f}: ${row}`);
    }
  }
});

Deno.test("golden: no kernel uses WGSL's short-circuit || or && (a branch each; see anyOf)", () => {
  const kernels = [...candidateKernels().kernels];
  assert(kernels.length > 100, `${kernels.length} kernels`);
  // And the batch gathers, outside the plans: augmenting (crop, flip, erasing) and resizing.
  const augment = { seed: 1, cropPadding: 2, flip: true, erase: { p: 0.5, min: 4, max: 12 } };
  const shape = { batch: 8, srcHeight: 28, srcWidth: 28, dstHeight: 28, dstWidth: 28 };
  kernels.push(["augmenting gather", kernelSource(gatherBatch(shape, augment))]);
  kernels.push([
    "resizing gather",
    kernelSource(gatherBatch({ ...shape, dstHeight: 32, dstWidth: 32 })),
  ]);
  const offenders = kernels.filter(([, wgsl]) => /\|\||&&/.test(wgsl)).map(([path]) => path);
  assertEquals(offenders, []);
});
