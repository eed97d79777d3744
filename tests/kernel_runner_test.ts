import { assert, assertEquals, assertMatch, assertRejects } from "./_assert.ts";
import { testGpu } from "./_gpu.ts";
import { KernelCompileError, KernelRunner } from "../lib/gpu/kernel_runner.ts";
import { readUints, storageBuffer } from "../lib/gpu/buffers.ts";
import { foldWorkgroups, type KernelSpec, MAX_WORKGROUPS_PER_DIMENSION } from "../kernels/spec.ts";

Deno.test("a shader that fails to compile reports the compiler's message and the numbered source", async () => {
  const runner = KernelRunner.for((await testGpu()).device);
  const bad: KernelSpec = {
    name: "broken_on_purpose",
    bindings: [{ name: "out", type: "array<f32>", access: "read_write" }],
    workgroupSize: 1,
    workgroupCount: 1,
    body: "  let x: f32 = 1u;\n  out[i] = x;",
  };
  const err = await runner.pipeline(bad).catch((e) => e);
  assert(err instanceof KernelCompileError, String(err));
  assertMatch(err.message, /^kernel broken_on_purpose failed to compile:\n/);
  assertMatch(err.message, /expected `f32`, but got `u32`|f32.*u32/);
  assertMatch(err.message, /--- source ---\n {3}1 \| \/\/ broken_on_purpose\n/);
  assertMatch(err.message, / \| +let x: f32 = 1u;/);
  await assertRejects(() => runner.pipeline(bad), KernelCompileError); // not cached as a success
});

Deno.test("pipelines are cached by key", async () => {
  const runner = KernelRunner.for((await testGpu()).device);
  const spec = (n: number): KernelSpec => ({
    name: `fill:${n}`,
    bindings: [{ name: "out", type: "array<f32>", access: "read_write" }],
    workgroupSize: 1,
    workgroupCount: 1,
    body: `  out[i] = ${n}.0;`,
  });
  const before = runner.cachedPipelines;
  const a = await runner.pipeline(spec(1));
  assertEquals(await runner.pipeline(spec(1)), a);
  await runner.pipeline(spec(2));
  assertEquals(runner.cachedPipelines, before + 2);
});

Deno.test("dispatches past 65,535 workgroups are folded into two dimensions and cover every index", async () => {
  assertEquals(foldWorkgroups(10), [10, 1]);
  assertEquals(foldWorkgroups(65535), [65535, 1]);
  const [x, y] = foldWorkgroups(200001);
  assert(x <= MAX_WORKGROUPS_PER_DIMENSION && x * y >= 200001 && y === 4);
  const { device } = await testGpu();
  const count = 70001; // one invocation per workgroup, so the fold is exercised
  const out = storageBuffer(device, count * 4);
  const runner = KernelRunner.for(device);
  runner.submit([
    await runner.prepare({
      kernel: {
        name: "index_fill",
        bindings: [{ name: "out", type: "array<u32>", access: "read_write" }],
        workgroupSize: 1,
        workgroupCount: count,
        body: `  if (i >= ${count}u) { return; }\n  out[i] = i + 1u;`,
      },
      buffers: [out],
    }),
  ]);
  const values = await readUints(device, out, 0, count);
  assert(values.every((v, i) => v === i + 1), "every index written exactly once");
});
