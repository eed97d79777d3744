/**
 * `deno task bench`: which kernel variant each op of a training step got on this adapter and
 * what it costs (each op's dispatches repeated inside one pass, so that no per-submit latency is
 * counted; with `--tune full`, every candidate's cost too), then end-to-end training and
 * evaluation throughput for both LeNet-5 variants. `--plan` prints the step plans (train and
 * eval, both variants) and stops.
 *
 * @module
 */
import { helpText, numberFlag, parseFlags, runCli, UsageError } from "./_args.ts";
import { commandGpu } from "./_gpu.ts";
import { TUNE_FLAG, tuneForCommand, tuneLevel } from "./_tune.ts";
import {
  Adam,
  DEFAULTS,
  describeGpu,
  evaluate,
  head,
  lenet5,
  loadFashionMnist,
  Model,
  train,
} from "../mod.ts";
import { formatPlan, type OpTiming, type PlanOp } from "../engine.ts";
import { KernelRunner, stepCalls, timeDispatches } from "../engine.ts";

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
  ...TUNE_FLAG,
  help: { type: "boolean", help: "show this help" },
} as const;

/** Training FLOPs per image (forward 0.83 M, backward about twice that), as in the reference. */
const TRAIN_FLOP_PER_IMAGE = 2.27e6;

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
  const level = tuneLevel(flags.tune);
  const say = (s: string) => !json && console.log(s);
  const gpu = await commandGpu();
  if (flags.plan) {
    console.log(`adapter: ${describeGpu(gpu)}`);
    for (const [activation, pool] of [["sigmoid", "avg"], ["relu", "max"]] as const) {
      const model = new Model(gpu, lenet5({ activation, pool }));
      await tuneForCommand(model, level, [{ batch, mode: "train" }], () => {});
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
  const report = {
    adapter: gpu.info,
    batch,
    tune: level,
    kernels: {} as Record<string, number>,
    variants: {} as Record<string, unknown>,
  };
  for (const [activation, pool] of [["sigmoid", "avg"], ["relu", "max"]] as const) {
    const name = `${activation} + ${pool}`;
    using model = new Model(gpu, lenet5({ activation, pool }));
    if (batch > model.maxBatchSize("train")) {
      throw new UsageError(
        `--batch-size ${batch} needs buffers larger than this adapter allows: ${
          model.maxBatchSize("train")
        } or less fits`,
      );
    }
    say(`\n${name}:`);
    const timings = await tuneForCommand(model, level, [{ batch, mode: "train" }], say);
    const plan = await model.plan(batch, "train");
    const chosen = Object.fromEntries(
      [...plan.forward, ...plan.backward].flatMap((op) =>
        op.tuning ? [[op.tuning.key, op.variant]] : []
      ),
    );
    // 1. Op by op (the reference variant only): what each costs and what its others cost.
    if (activation === "sigmoid") {
      report.kernels = await opTable(model, plan, timings, reps, say);
    }
    // 2. End to end, as `train` runs (a check of the device every 10 steps): a short warm-up run
    // compiles everything, then a timed one.
    await train(model, { train: head(data.train, 2 * batch) }, { epochs: 1, batchSize: batch });
    const history = await train(model, { train: head(data.train, steps * batch) }, {
      epochs: 1,
      batchSize: batch,
    });
    const imagesPerSecond = history.epochs[0].images_per_second;
    // Evaluation as every epoch after the first runs it: the plans of both batch sizes (the last
    // batch is smaller) built by a first pass; the timed one includes the test set's upload.
    await evaluate(model, data.test, { batchSize: batch });
    const ev = await evaluate(model, data.test, { batchSize: batch });
    const evalPerSecond = ev.count / ev.seconds;
    say(
      `  end to end (${steps} steps of ${batch} after a warm-up): train ${
        imagesPerSecond.toFixed(0)
      } images/s (${(imagesPerSecond * TRAIN_FLOP_PER_IMAGE / 1e9).toFixed(2)} GFLOP/s, ${
        (60000 / imagesPerSecond).toFixed(1)
      } s/epoch); eval of ${ev.count} images ${ev.seconds.toFixed(2)} s (${
        evalPerSecond.toFixed(0)
      } images/s)`,
    );
    report.variants[`${activation}_${pool}`] = {
      train_images_per_second: imagesPerSecond,
      train_seconds_per_epoch: 60000 / imagesPerSecond,
      eval_images_per_second: evalPerSecond,
      eval_seconds: ev.seconds,
      chosen,
      ...(timings.length ? { candidates: timings } : {}),
    };
  }
  if (json) console.log(JSON.stringify(report));
}

/** Times each op of the plan as chosen, prints them by cost with the other candidates' costs. */
async function opTable(
  model: Model,
  plan: Awaited<ReturnType<Model["plan"]>>,
  timings: OpTiming[],
  reps: number,
  say: (line: string) => void,
): Promise<Record<string, number>> {
  const device = model.gpu.device;
  const optimizer = new Adam();
  const ops: PlanOp[] = [...plan.forward, ...plan.loss, ...plan.backward, optimizer.attach(model)];
  optimizer.beginStep(device);
  const runner = KernelRunner.for(device);
  const rows: { op: PlanOp; ms: number }[] = [];
  for (const op of ops) {
    const dispatches = await runner.prepareAll(stepCalls([op]));
    rows.push({ op, ms: await timeDispatches(device, dispatches, { reps }) });
  }
  optimizer.dispose();
  rows.sort((a, b) => b.ms - a.ms);
  const total = rows.reduce((s, r) => s + r.ms, 0);
  const dispatchCount = ops.reduce((s, op) => s + op.calls.length, 0);
  say(`  ops of one training step (${dispatchCount} dispatches):`);
  for (const { op, ms } of rows) {
    const count = op.calls.length > 1 ? ` (×${op.calls.length})` : "";
    say(
      `${ms.toFixed(2).padStart(9)} ms ${
        (100 * ms / total).toFixed(1).padStart(5)
      }%  ${op.layer} ${op.name} [${op.variant}]${count}`,
    );
    const timing = timings.find((t) => t.key === op.tuning?.key);
    if (timing) {
      const others = Object.entries(timing.ms).filter(([v]) => !op.variant.startsWith(v));
      say(
        `                    others: ${others.map(([v, t]) => `${v} ${t.toFixed(2)}`).join("; ")}`,
      );
    }
  }
  say(
    `${total.toFixed(2).padStart(9)} ms         sum (${
      (plan.batch / total * 1000).toFixed(0)
    } images/s if nothing else cost)`,
  );
  return Object.fromEntries(
    rows.map(({ op, ms }) => [`${op.layer} ${op.name} [${op.variant}]`, ms]),
  );
}

await runCli(main, "Run `deno task bench --help` for the options.");
