// Times each kernel of one training step on this adapter (dispatched alone, median of runs).
// Usage: deno run -A tools/profile_step.ts [batch] [activation] [pool]
import { lenet5, Model, requestGpu } from "../mod.ts";
import { KernelRunner } from "../lib/kernel_runner.ts";
import { Adam } from "../lib/optimizer.ts";

const batch = Number(Deno.args[0] ?? 256);
const gpu = await requestGpu();
const model = new Model(
  gpu,
  lenet5({
    activation: (Deno.args[1] ?? "sigmoid") as "sigmoid",
    pool: (Deno.args[2] ?? "avg") as "avg",
  }),
);
const program = await model.program(batch, true);
const opt = new Adam();
const calls = [...program.forward, ...program.loss, ...program.backward, opt.attach(model)];
const runner = KernelRunner.for(gpu.device);
const dispatches = await runner.prepareAll(calls);
opt.beginStep(gpu.device);
let total = 0;
const rows: [string, number][] = [];
for (const d of dispatches) {
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    await gpu.device.queue.onSubmittedWorkDone();
    const t = performance.now();
    runner.submit([d]);
    await gpu.device.queue.onSubmittedWorkDone();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  rows.push([d.key, times[2]]);
  total += times[2];
}
for (const [k, t] of rows) console.log(`${t.toFixed(2).padStart(8)} ms  ${k}`);
console.log(
  `${total.toFixed(2).padStart(8)} ms  total (${(batch / total * 1000).toFixed(0)} images/s)`,
);
