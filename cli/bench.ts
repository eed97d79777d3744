/**
 * `deno task bench`: where the time of a training step goes on this adapter (each op of the
 * step plan, its dispatches repeated inside one pass so that no per-submit latency is counted),
 * then end-to-end training and evaluation throughput for both LeNet-5 variants. `--plan` prints
 * the step plans (train and eval, both variants) and stops.
 *
 * @module
 */
import { helpText, numberFlag, parseFlags, runCli, UsageError } from "./_args.ts";
import { commandGpu } from "./_gpu.ts";
import {
  Adam,
  DEFAULTS,
  describeGpu,
  evaluate,
  formatPlan,
  type Gpu,
  head,
  lenet5,
  loadFashionMnist,
  Model,
  type PlanOp,
  train,
} from "../mod.ts";
import { type Dispatch, KernelRunner, stepCalls } from "../engine.ts";

const FLAGS = {
  "batch-size": {
    type: "string",
    default: String(DEFAULTS.batchSize),
    value: "N",
    help: "images per batch",
  },
  steps: { type: "string", default: "40", value: "N", help: "training steps timed per variant" },
  reps: { type: "string", default: "10", value: "N", help: "repetitions of each kernel" },
  json: { type: "boolean", help: "print one JSON object" },
  plan: { type: "boolean", help: "print the step plans (ops, variants, shapes, costs) and stop" },
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
  const batch = numberFlag("batch-size", flags["batch-size"], DEFAULTS.batchSize, {
    integer: true,
    min: 1,
  });
  const steps = numberFlag("steps", flags.steps, 40, { integer: true, min: 2 });
  const reps = numberFlag("reps", flags.reps, 10, { integer: true, min: 1 });
  const json = flags.json === true;
  const say = (s: string) => !json && console.log(s);
  const gpu = await commandGpu();
  if (flags.plan) {
    console.log(`adapter: ${describeGpu(gpu)}`);
    for (const [activation, pool] of [["sigmoid", "avg"], ["relu", "max"]] as const) {
      const model = new Model(gpu, lenet5({ activation, pool }));
      for (const mode of ["train", "eval"] as const) {
        const plan = await model.plan(batch, mode);
        const optimizer = new Adam();
        const ops = [...plan.forward, ...plan.loss, ...plan.backward];
        if (mode === "train") ops.push(optimizer.attach(model));
        console.log(`\n${mode} step, batch ${batch}, LeNet-5 ${activation} + ${pool} pooling:`);
        console.log(formatPlan(ops, plan.tensors));
        optimizer.dispose();
      }
      model.dispose();
    }
    return;
  }
  const data = await loadFashionMnist();
  say(`adapter: ${describeGpu(gpu)}`);
  const report: Record<string, unknown> = { adapter: gpu.info, batch, kernels: {}, variants: {} };

  // 1. Op by op, for the reference variant.
  const model = new Model(gpu, lenet5());
  if (batch > model.maxBatchSize("train")) {
    throw new UsageError(
      `--batch-size ${batch} needs buffers larger than this adapter allows: ${
        model.maxBatchSize("train")
      } or less fits`,
    );
  }
  const plan = await model.plan(batch, "train");
  const optimizer = new Adam();
  const ops: PlanOp[] = [...plan.forward, ...plan.loss, ...plan.backward, optimizer.attach(model)];
  const runner = KernelRunner.for(gpu.device);
  optimizer.beginStep(gpu.device);
  const rows: [string, { ms: number; count: number }][] = [];
  let dispatchCount = 0;
  for (const op of ops) {
    let ms = 0;
    for (const d of await runner.prepareAll(stepCalls([op]))) {
      ms += await timeDispatch(gpu, d, reps);
    }
    dispatchCount += op.calls.length;
    rows.push([`${op.layer} ${op.name} [${op.variant}]`, { ms, count: op.calls.length }]);
  }
  rows.sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, r]) => s + r.ms, 0);
  say(
    `\nops of one training step (batch ${batch}, sigmoid + avg pooling; ${dispatchCount} dispatches):`,
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
  optimizer.dispose();
  model.dispose();

  // 2. End to end, as `train` runs (a wait for the device every 10 steps): a short warm-up run
  // compiles everything, then a timed one.
  say(
    `\nend to end (${steps} steps of ${batch} after a warm-up; evaluation of ${data.test.count} images):`,
  );
  for (const [activation, pool] of [["sigmoid", "avg"], ["relu", "max"]] as const) {
    using m = new Model(gpu, lenet5({ activation, pool }));
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
