// What a dispatch costs on this adapter apart from its work, whether a branch that no lane takes
// costs its body (a loop, arithmetic written out, reads written out), and whether several 64 KiB
// uniform views read by one dispatch beat one dispatch per view (README, "Performance"):
//
//   deno run --allow-env --allow-read tools/dispatch_cost.ts
//
// Each figure is the median of seven submits, run it on a quiet machine. Part 1: 300 dispatches
// in one compute pass (4 workgroups of 64 each), per dispatch. Part 2: the same work over 8 views
// (a loop of 2,000 uniform reads, 8 multiply-adds each), per round of all 8.
const adapter = await navigator.gpu?.requestAdapter();
if (!adapter) {
  console.error('error: no WebGPU adapter (see the README\'s "Getting WebGPU")');
  Deno.exit(1);
}
const device = await adapter.requestDevice();
const output = device.createBuffer({ size: 65536, usage: GPUBufferUsage.STORAGE });
const WORK = "for (var k = 0u; k < 4000u; k++) { a = a * m + 0.5; }";
// Work written out, as the kernels' unrolled tiles are (no loop): arithmetic, and reads whose
// address differs per lane (a gather each, like a tile's input reads).
const STRAIGHT = Array(500).fill("a = a * m + 0.5;").join(" ");
const GATHERS = Array.from({ length: 2000 }, (_, k) => `a += u0[(lidx * 7u + ${k}u) & 4095u].x;`)
  .join(" ");

/** A pipeline and the bind groups a round dispatches it with, one dispatch each. */
interface Design {
  pipeline: GPUComputePipeline;
  groups: GPUBindGroup[];
}

/**
 * Milliseconds per round of `design`, `count` workgroups a dispatch: the median of seven submits
 * of 20 rounds each, in one compute pass.
 */
async function msPerRound({ pipeline, groups }: Design, count: number): Promise<number> {
  const submit = () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (let r = 0; r < 20; r++) {
      for (const group of groups) {
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(count);
      }
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
  return times.sort((a, b) => a - b)[3] / 20;
}

const VIEWS = 8;
const views = Array.from(
  { length: VIEWS },
  () => device.createBuffer({ size: 65536, usage: GPUBufferUsage.UNIFORM }),
);
/** A loop of uniform reads (`read`, `K` standing for the index) feeding 8 sums, as `run<v>`. */
const viewLoop = (v: number, read: string) => {
  const eight = Array.from({ length: 8 }, (_, j) => j);
  return `fn run${v}(lidx: u32) -> f32 {
  ${eight.map((j) => `var a${j} = 0.0;`).join(" ")}
  let w = f32(lidx) * 0.001;
  for (var k = 0u; k < 2000u; k++) {
    let x = ${read.replaceAll("K", "((k * 7u + lidx) & 16383u)")};
    ${eight.map((j) => `a${j} += x * (w + ${j}.0);`).join(" ")}
  }
  return ${eight.map((j) => `a${j}`).join(" + ")};
}`;
};
/** A pipeline binding `count` views, and its bind groups (one per view when `count` is 1). */
function viewPipeline(count: number, functions: string, call: string): Design {
  const code = `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
${
    Array.from({ length: count }, (_, v) =>
      `@group(0) @binding(${v + 1}) var<uniform> u${v}: array<vec4f, 4096>;`).join("\n")
  }
${functions}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lidx: u32) {
  let wg = wid.x;
  var total = 0.0;
  ${call}
  o[wg * 64u + lidx] = total;
}`;
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
  });
  const group = (first: number) =>
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: output } },
        ...views.slice(first, first + count).map((buffer, v) => ({
          binding: v + 1,
          resource: { buffer },
        })),
      ],
    });
  return { pipeline, groups: count === 1 ? views.map((_, v) => group(v)) : [group(0)] };
}
const all = Array.from({ length: VIEWS }, (_, v) => v);
/** The three designs, `per` workgroups a view. */
function viewDesigns(per: number) {
  const vsel = `let vsel = wg / ${per}u;`;
  return {
    "a dispatch per view": [
      viewPipeline(1, viewLoop(0, "u0[K >> 2u][K & 3u]"), "total = run0(lidx);"),
      per,
    ] as const,
    "one dispatch, a body per view behind a uniform branch": [
      viewPipeline(
        VIEWS,
        all.map((v) => viewLoop(v, `u${v}[K >> 2u][K & 3u]`)).join("\n"),
        `${vsel}\n  ${
          all.map((v) => `if (vsel == ${v}u) { total = run${v}(lidx); }`).join("\n  ")
        }`,
      ),
      per * VIEWS,
    ] as const,
    "one dispatch, each read switching on the view": [
      viewPipeline(
        VIEWS,
        `var<private> vsel: u32;
fn X(k: u32) -> f32 {
  switch vsel { ${
          all.map((v) => `case ${v}u: { return u${v}[k >> 2u][k & 3u]; }`).join(" ")
        } default: { return 0.0; } }
}
${viewLoop(0, "X(K)")}`,
        `vsel = wg / ${per}u;\n  total = run0(lidx);`,
      ),
      per * VIEWS,
    ] as const,
  };
}

// The false conditions read `m`, which the compiler cannot know: a condition it can prove false
// (say, `lidx >= 100u` with workgroups of 64) is folded away with its body and times nothing.
const FALSE = "m > 1000.0";
const rows: [string, string][] = [
  ["no work", ""],
  ["the work (4,000 dependent multiply-adds a lane)", WORK],
  ["the work behind a workgroup-uniform false branch", `if (${FALSE}) { ${WORK} }`],
  ["the work behind a per-lane false branch", `if (f32(lidx) * m > 1000.0) { ${WORK} }`],
  ["the work in one lane of each 8 (divergent)", `if (lidx % 8u == 0u) { ${WORK} }`],
  ["500 multiply-adds written out", STRAIGHT],
  ["those behind a workgroup-uniform false branch", `if (${FALSE}) { ${STRAIGHT} }`],
  ["2,000 reads at per-lane addresses written out", GATHERS],
  ["those behind a workgroup-uniform false branch", `if (${FALSE}) { ${GATHERS} }`],
];
console.log(`adapter: ${adapter.info.description || adapter.info.vendor}`);
for (const [name, body] of rows) {
  const { pipeline, groups } = viewPipeline(
    1,
    `fn work(wg: u32, lidx: u32) -> f32 {
  var a = f32(lidx);
  let m = u0[0].x + 1.0001; // not a constant, so the work cannot be folded away
  ${body}
  return a;
}`,
    "total = work(wg, lidx);",
  );
  const ms = await msPerRound({ pipeline, groups: Array(15).fill(groups[0]) }, 4);
  console.log(`${(ms / 15 * 1000).toFixed(1).padStart(8)} µs  ${name}`);
}
for (const per of [1, 2, 4]) {
  console.log(`${VIEWS} views, ${per} workgroup${per > 1 ? "s" : ""} of 64 a view, per round:`);
  for (const [name, [design, count]] of Object.entries(viewDesigns(per))) {
    console.log(`${(await msPerRound(design, count)).toFixed(3).padStart(8)} ms  ${name}`);
  }
}
