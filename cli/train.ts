/**
 * `deno task train`: trains LeNet-5 on Fashion-MNIST as the reference program does, and leaves
 * `metrics.jsonl`, `loss.svg` and `model.safetensors` in `--out`.
 *
 * @module
 */
import { choiceFlag, helpText, numberFlag, parseFlags, runCli, UsageError } from "./_args.ts";
import { Progress } from "./_progress.ts";
import { describeGpu, requestGpu } from "../lib/device.ts";
import { lenet5, shapeSummary } from "../lib/lenet.ts";
import { Model } from "../lib/model.ts";
import { Adam, type Optimizer, SGD } from "../lib/optimizer.ts";
import { type EpochMetrics, type LossPoint, train } from "../lib/trainer.ts";
import { lossChartSvg } from "../lib/chart.ts";
import { saveCheckpoint } from "../lib/checkpoint.ts";
import { loadFashionMnist, writeAtomic } from "../data/locate.ts";
import { head } from "../data/dataset.ts";

const FLAGS = {
  epochs: {
    type: "string",
    default: "10",
    value: "N",
    help: "epochs to train (the reference runs 120)",
  },
  "batch-size": { type: "string", default: "256", value: "N", help: "images per batch" },
  lr: { type: "string", value: "X", help: "learning rate", default: "1e-3 for adam, 0.1 for sgd" },
  optimizer: { type: "string", default: "adam", value: "adam|sgd", help: "optimiser" },
  momentum: { type: "string", default: "0", value: "X", help: "SGD momentum" },
  "weight-decay": { type: "string", default: "0", value: "X", help: "L2 weight decay" },
  activation: { type: "string", default: "sigmoid", value: "sigmoid|relu", help: "activation" },
  pool: { type: "string", default: "avg", value: "avg|max", help: "pooling" },
  seed: {
    type: "string",
    default: "0",
    value: "N",
    help: "seed of the initial weights and the shuffling",
  },
  "data-dir": {
    type: "string",
    value: "DIR",
    help: "folder with the four Fashion-MNIST .gz files",
    default: "searched",
  },
  out: { type: "string", value: "DIR", help: "output folder", default: "runs/<timestamp>" },
  "log-every": {
    type: "string",
    default: "100",
    value: "N",
    help: "log the mean loss every N steps",
  },
  resize: {
    type: "string",
    value: "N",
    help: "resize images to N×N on the device (bilinear), like the reference's resize",
    default: "28, as stored",
  },
  subset: {
    type: "string",
    value: "N",
    help: "train on the first N training images only",
    default: "all",
  },
  json: {
    type: "boolean",
    help: "machine-readable JSON lines on stdout (human logs go to stderr)",
  },
  help: { type: "boolean", help: "show this help" },
} as const;

const USAGE = "Usage: deno task train [options]";

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText(USAGE, FLAGS));
    return;
  }
  const optimizerName = choiceFlag("optimizer", flags.optimizer, ["adam", "sgd"] as const, "adam");
  const config = {
    epochs: numberFlag("epochs", flags.epochs, 10, { integer: true, min: 1 }),
    batchSize: numberFlag("batch-size", flags["batch-size"], 256, { integer: true, min: 1 }),
    lr: numberFlag("lr", flags.lr, optimizerName === "adam" ? 1e-3 : 0.1, { exclusiveMin: 0 }),
    optimizer: optimizerName,
    momentum: numberFlag("momentum", flags.momentum, 0, { min: 0 }),
    weightDecay: numberFlag("weight-decay", flags["weight-decay"], 0, { min: 0 }),
    activation: choiceFlag("activation", flags.activation, ["sigmoid", "relu"] as const, "sigmoid"),
    pool: choiceFlag("pool", flags.pool, ["avg", "max"] as const, "avg"),
    seed: numberFlag("seed", flags.seed, 0, { integer: true, min: 0 }),
    logEvery: numberFlag("log-every", flags["log-every"], 100, { integer: true, min: 1 }),
    subset: numberFlag("subset", flags.subset, Infinity, { integer: true, min: 1 }),
    resize: numberFlag("resize", flags.resize, 28, { integer: true, min: 12 }),
  };
  if (config.momentum > 0 && optimizerName !== "sgd") {
    throw new UsageError("--momentum applies to --optimizer sgd only");
  }
  const json = flags.json === true;
  const out = typeof flags.out === "string" && flags.out
    ? flags.out
    : `runs/${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;
  // Human-readable lines go to stdout, or to stderr when stdout carries JSON.
  const say = (line: string) => (json ? console.error(line) : console.log(line));
  const emit = (event: Record<string, unknown>) => json && console.log(JSON.stringify(event));

  const data = await loadFashionMnist({ dataDir: flags["data-dir"] as string | undefined });
  if (config.subset < data.train.count) data.train = head(data.train, config.subset);
  const gpu = await requestGpu({ storageBufferBytes: data.train.images.length });
  await Deno.mkdir(out, { recursive: true });
  say(`adapter: ${describeGpu(gpu)}`);
  say(
    `data: ${data.name} from ${data.source} (${data.train.count} train, ${data.test.count} test)`,
  );
  const net = lenet5({
    activation: config.activation,
    pool: config.pool,
    seed: config.seed,
    inputSize: config.resize,
  });
  const inputShape = [1, config.resize, config.resize];
  for (const line of shapeSummary(net, inputShape)) say(line);
  const optimizer: Optimizer = optimizerName === "adam"
    ? new Adam({ lr: config.lr, weightDecay: config.weightDecay })
    : new SGD({ lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay });
  say(
    `training ${config.epochs} epoch${
      config.epochs === 1 ? "" : "s"
    }, batch ${config.batchSize}, ${optimizer}, output in ${out}`,
  );
  emit({ event: "start", adapter: gpu.info, out, ...config });

  const model = new Model(gpu, net, { inputShape });
  const progress = new Progress(config.epochs);
  const losses: LossPoint[] = [], epochs: EpochMetrics[] = [];
  const stepsPerEpoch = Math.ceil(data.train.count / config.batchSize);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  const metadata = () => ({
    activation: config.activation,
    pool: config.pool,
    input_size: String(config.resize),
    epochs: String(epochs.length),
    test_accuracy: String(epochs.at(-1)?.test_accuracy ?? ""),
    producer: "lenet-webgpu",
  });
  const history = await train(model, data, {
    epochs: config.epochs,
    batchSize: config.batchSize,
    optimizer,
    seed: config.seed,
    logEvery: config.logEvery,
    signal: controller.signal,
    onStep: (e) => {
      if (e.loss !== undefined) {
        losses.push({ step: e.step, loss: e.loss });
        emit({
          event: "step",
          epoch: e.epoch,
          step: e.step,
          loss: e.loss,
          images_per_second: e.images / e.seconds,
        });
      }
      progress.step(e);
    },
    onEpoch: async (m) => {
      epochs.push(m);
      progress.clear();
      say(
        `epoch ${m.epoch}/${config.epochs}: train loss ${m.train_loss.toFixed(4)}, test loss ${
          m.test_loss.toFixed(4)
        }, ` +
          `test accuracy ${m.test_accuracy.toFixed(4)} | ${m.train_seconds.toFixed(1)} s, ` +
          `${m.images_per_second.toFixed(0)} img/s, eval ${m.eval_seconds.toFixed(1)} s`,
      );
      emit({ event: "epoch", ...m });
      await writeAtomic(
        `${out}/metrics.jsonl`,
        epochs.map((e) => JSON.stringify(e)).join("\n") + "\n",
      );
      await writeAtomic(`${out}/loss.svg`, lossChartSvg({ losses, epochs, stepsPerEpoch }));
      await writeAtomic(`${out}/model.safetensors`, await saveCheckpoint(model, metadata()));
    },
  });
  Deno.removeSignalListener("SIGINT", onSignal);
  progress.clear();
  if (history.stopped) say(`interrupted after ${epochs.length} complete epochs`);
  // The final chart includes the last partial loss window; the weights are saved as they are.
  await writeAtomic(
    `${out}/loss.svg`,
    lossChartSvg({ losses: history.losses, epochs, stepsPerEpoch }),
  );
  await writeAtomic(`${out}/model.safetensors`, await saveCheckpoint(model, metadata()));
  const final = epochs.at(-1);
  say(`done: test accuracy ${final?.test_accuracy.toFixed(4) ?? "-"}; outputs in ${out}`);
  emit({
    event: "done",
    out,
    stopped: history.stopped,
    test_accuracy: final?.test_accuracy ?? null,
  });
}

await runCli(main, "Run `deno task train --help` for the options.");
