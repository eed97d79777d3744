// What a dispatch costs on this adapter apart from its work, and whether a branch that no lane
// takes costs its body (README, "Performance"):
//
//   deno run --allow-env --allow-read tools/dispatch_cost.ts
//
// Each figure is the median of seven submits of 300 dispatches in one compute pass (4 workgroups
// of 64 each), per dispatch; run it on a quiet machine.
const adapter = await navigator.gpu?.requestAdapter();
if (!adapter) {
  console.error('error: no WebGPU adapter (see the README\'s "Getting WebGPU")');
  Deno.exit(1);
}
const device = await adapter.requestDevice();
// Two buffers: WebGPU refuses a dispatch that binds one buffer both writable and as a uniform.
const output = device.createBuffer({ size: 65536, usage: GPUBufferUsage.STORAGE });
const input = device.createBuffer({ size: 65536, usage: GPUBufferUsage.UNIFORM });
const WORK = "for (var k = 0u; k < 4000u; k++) { a = a * m + 0.5; }";

interface Kernel {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
}

/** A kernel reading `u` (a 64 KiB uniform view) and writing `o`, with `body` in between. */
function kernel(body: string): Kernel {
  const code = `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) var<uniform> u: array<vec4f, 4096>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lidx: u32) {
  let wg = wid.x;
  var a = f32(lidx);
  let m = u[0].x + 1.0001; // not a constant, so the work cannot be folded away
  ${body}
  o[wg * 64u + lidx] = a;
}`;
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
  });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: output } }, {
      binding: 1,
      resource: { buffer: input },
    }],
  });
  return { pipeline, group };
}

/** Microseconds per dispatch: the median of seven submits of `n` dispatches. */
async function perDispatch(k: Kernel, n = 300): Promise<number> {
  const submit = () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (let j = 0; j < n; j++) {
      pass.setPipeline(k.pipeline);
      pass.setBindGroup(0, k.group);
      pass.dispatchWorkgroups(4);
    }
    pass.end();
    device.queue.submit([encoder.finish()]);
    return device.queue.onSubmittedWorkDone();
  };
  device.pushErrorScope("validation");
  await submit();
  const error = await device.popErrorScope();
  if (error) throw new Error(`the benchmark's dispatch is invalid: ${error.message}`);
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t = performance.now();
    await submit();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[3] / n * 1000;
}

const rows: [string, string][] = [
  ["no work", ""],
  ["the work (4,000 dependent multiply-adds a lane)", WORK],
  ["the work behind a workgroup-uniform false branch", `if (wg >= 100000u) { ${WORK} }`],
  ["the work behind a per-lane false branch", `if (lidx >= 100u) { ${WORK} }`],
  ["the work in one lane of each 8 (divergent)", `if (lidx % 8u == 0u) { ${WORK} }`],
];
console.log(`adapter: ${adapter.info.description || adapter.info.vendor}`);
for (const [name, body] of rows) {
  console.log(`${(await perDispatch(kernel(body))).toFixed(1).padStart(8)} µs  ${name}`);
}
