/**
 * `deno task bench`: where the time of a training step goes on this adapter (each kernel of the
 * step, repeated inside one pass so that no per-submit latency is counted), then end-to-end
 * training and evaluation throughput for both LeNet-5 variants.
 *
 * @module
 */
import { helpText, numberFlag, parseFlags, runCli } from "./_args.ts";
import { describeGpu, type Gpu, requestGpu } from "../lib/device.ts";
import { type Dispatch, KernelRunner } from "../lib/kernel_runner.ts";
import { lenet5 } from "../lib/lenet.ts";
import { Model } from "../lib/model.ts";
import { Adam } from "../lib/optimizer.ts";
import { train } from "../lib/trainer.ts";
import { evaluate } from "../lib/evaluator.ts";
import { loadFashionMnist } from "../data/locate.ts";
import { head } from "../data/dataset.ts";

const FLAGS = {
  "batch-size": { type: "string", default: "256", value: "N", help: "images per batch" },
  steps: { type: "string", default: "40", value: "N", help: "training steps timed per variant" },
  reps: { type: "string", default: "10", value: "N", help: "repetitions of each kernel" },
  json: { type: "boolean", help: "print one JSON object" },
  help: { type: "boolean", help: "show this help" },
} as const;

/** Training FLOPs per image (forward 0.83 M, backward about twice that), as in the reference. */
const TRAIN_FLOP_PER_IMAGE = 2.27e6;

/** Milliseconds per dispatch: the time of 2R dispatches minus R, which cancels the fixed wait. */
async function timeDispatch(gpu: Gpu, d: Dispatch, reps: number): Promise<number> {
  const runner = KernelRunner.for(gpu.device);
  const run = async (n: number) => {
    const t = performance.now();
    runner.submit(Array(n).fill(d));
    await gpu.device.queue.onSubmittedWorkDone();
    return performance.now() - t;
  };
  await run(1);
  let best = Infinity;
  for (let trial = 0; trial < 3; trial++) {
    best = Math.min(best, ((await run(2 * reps)) - (await run(reps))) / reps);
  }
  return Math.max(best, 0);
}

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText("Usage: deno task bench [options]", FLAGS));
    return;
  }
  const batch = numberFlag("batch-size", flags["batch-size"], 256, { integer: true, min: 1 });
  const steps = numberFlag("steps", flags.steps, 40, { integer: true, min: 2 });
  const reps = numberFlag("reps", flags.reps, 10, { integer: true, min: 1 });
  const json = flags.json === true;
  const say = (s: string) => !json && console.log(s);
  const data = await loadFashionMnist();
  const gpu = await requestGpu({ storageBufferBytes: data.train.images.length });
  say(`adapter: ${describeGpu(gpu)}`);
  const report: Record<string, unknown> = { adapter: gpu.info, batch, kernels: {}, variants: {} };

  // 1. Kernel by kernel, for the reference variant.
  const model = new Model(gpu, lenet5());
  const program = await model.program(batch, true);
  const optimizer = new Adam();
  const calls = [...program.forward, ...program.loss, ...program.backward, optimizer.attach(model)];
  const dispatches = await KernelRunner.for(gpu.device).prepareAll(calls);
  optimizer.beginStep(gpu.device);
  // Dispatches of the same kernel (the chunks of one layer) are added up.
  const byKey = new Map<string, { ms: number; count: number }>();
  for (const d of dispatches) {
    const row = byKey.get(d.key) ?? { ms: 0, count: 0 };
    row.ms += await timeDispatch(gpu, d, reps);
    row.count++;
    byKey.set(d.key, row);
  }
  const rows = [...byKey].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, r]) => s + r.ms, 0);
  say(
    `\nkernels of one training step (batch ${batch}, sigmoid + avg pooling; ${dispatches.length} dispatches):`,
  );
  for (const [key, { ms, count }] of rows) {
    say(
      `${ms.toFixed(2).padStart(9)} ms ${(100 * ms / total).toFixed(1).padStart(5)}%  ${key}${
        count > 1 ? ` (×${count})` : ""
      }`,
    );
  }
  say(
    `${total.toFixed(2).padStart(9)} ms         sum (${
      (batch / total * 1000).toFixed(0)
    } images/s if nothing else cost)`,
  );
  report.kernels = Object.fromEntries(rows.map(([k, r]) => [k, r.ms]));

  // 2. End to end, as `train` runs (a wait for the device every 10 steps): a short warm-up run
  // compiles everything, then a timed one.
  say(
    `\nend to end (${steps} steps of ${batch} after a warm-up; evaluation of ${data.test.count} images):`,
  );
  for (const [activation, pool] of [["sigmoid", "avg"], ["relu", "max"]] as const) {
    const m = new Model(gpu, lenet5({ activation, pool }));
    await train(m, { train: head(data.train, 2 * batch) }, { epochs: 1, batchSize: batch });
    const history = await train(m, { train: head(data.train, steps * batch) }, {
      epochs: 1,
      batchSize: batch,
    });
    const imagesPerSecond = history.epochs[0].images_per_second;
    const ev = await evaluate(m, data.test, { batchSize: batch });
    const evalPerSecond = ev.count / ev.seconds;
    say(
      `  ${`${activation} + ${pool}`.padEnd(14)} train ${
        imagesPerSecond.toFixed(0).padStart(7)
      } images/s ` +
        `(${(imagesPerSecond * TRAIN_FLOP_PER_IMAGE / 1e9).toFixed(2)} GFLOP/s, ${
          (60000 / imagesPerSecond).toFixed(1)
        } s/epoch)  ` +
        `eval ${evalPerSecond.toFixed(0).padStart(7)} images/s`,
    );
    (report.variants as Record<string, unknown>)[`${activation}_${pool}`] = {
      train_images_per_second: imagesPerSecond,
      train_seconds_per_epoch: 60000 / imagesPerSecond,
      eval_images_per_second: evalPerSecond,
    };
  }
  if (json) console.log(JSON.stringify(report));
}

await runCli(main, "Run `deno task bench --help` for the options.");
