/**
 * `deno task train`: trains LeNet-5 on Fashion-MNIST as the reference program does, and leaves
 * `metrics.jsonl`, `loss.svg` and `model.safetensors` in `--out`.
 *
 * @module
 */
import {
  ARCHITECTURE_FLAGS,
  architectureFlags,
  choiceFlag,
  exit,
  helpText,
  numberFlag,
  parseFlags,
  runCli,
  UsageError,
} from "./_args.ts";
import { commandGpu } from "./_gpu.ts";
import { claimRunDir } from "./_run_dir.ts";
import { Progress } from "./_progress.ts";
import {
  Adam,
  DEFAULTS,
  describeGpu,
  type EpochMetrics,
  GpuFaultError,
  head,
  lenet5,
  loadFashionMnist,
  lossChartSvg,
  Model,
  NonFiniteError,
  type Optimizer,
  saveCheckpoint,
  SGD,
  shapeSummary,
  summary,
  train,
  type TrainProgress,
} from "../mod.ts";
import {
  decodeTrainingState,
  encodeTrainingState,
  type LossPoint,
  type TrainingState,
} from "../engine.ts";
import { readRegularFile, sameFile, writeAtomic } from "../deno/files.ts";
import { TUNE_FLAG, tuneForCommand, tuneLevel } from "./_tune.ts";

const FLAGS = {
  ...ARCHITECTURE_FLAGS,
  epochs: {
    type: "string",
    default: String(DEFAULTS.epochs),
    value: "N",
    help: "epochs to train (the reference runs 120)",
  },
  "batch-size": {
    type: "string",
    default: String(DEFAULTS.batchSize),
    value: "N",
    help: "images per batch",
  },
  lr: {
    type: "string",
    value: "X",
    help: "learning rate",
    default: `${DEFAULTS.adam.lr} for adam, ${DEFAULTS.sgd.lr} for sgd`,
  },
  optimizer: { type: "string", default: DEFAULTS.optimizer, value: "adam|sgd", help: "optimiser" },
  momentum: { type: "string", default: "0", value: "X", help: "SGD momentum" },
  "weight-decay": { type: "string", default: "0", value: "X", help: "L2 weight decay" },
  seed: {
    type: "string",
    default: String(DEFAULTS.seed),
    value: "N",
    help: "seed of the initial weights and the shuffling",
  },
  "data-dir": {
    type: "string",
    value: "DIR",
    help: "folder with the four Fashion-MNIST .gz files",
    default: "searched",
  },
  out: { type: "string", value: "DIR", help: "output folder", default: "a new runs/<timestamp>" },
  overwrite: { type: "boolean", help: "replace the run already in --out" },
  resume: {
    type: "string",
    value: "DIR",
    help: "continue the run in DIR (--epochs is the total); flags that change the run are refused",
  },
  "log-every": {
    type: "string",
    default: String(DEFAULTS.logEvery),
    value: "N",
    help: "log the mean loss every N steps",
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
  ...TUNE_FLAG,
  help: { type: "boolean", help: "show this help" },
} as const;

const USAGE = "Usage: deno task train [options]";

/** The file in a run's folder that `--resume` continues from. */
const STATE_FILE = "training_state.safetensors";

/** The settings that define a run: a resumed run must keep them. Key → flag. */
const RUN_SETTINGS = {
  activation: "activation",
  pool: "pool",
  seed: "seed",
  optimizer: "optimizer",
  lr: "lr",
  momentum: "momentum",
  weightDecay: "weight-decay",
  batchSize: "batch-size",
  subset: "subset",
  resize: "resize",
} as const;

/** Exit codes after a signal: 128 + its number, as shells report. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText(USAGE, FLAGS));
    return;
  }
  const optimizerName = choiceFlag(
    "optimizer",
    flags.optimizer,
    ["adam", "sgd"] as const,
    DEFAULTS.optimizer,
  );
  const int = { integer: true, min: 1 };
  const config = {
    ...architectureFlags(flags),
    epochs: numberFlag("epochs", flags.epochs, DEFAULTS.epochs, int),
    batchSize: numberFlag("batch-size", flags["batch-size"], DEFAULTS.batchSize, int),
    lr: numberFlag("lr", flags.lr, DEFAULTS[optimizerName].lr, { exclusiveMin: 0 }),
    optimizer: optimizerName,
    momentum: numberFlag("momentum", flags.momentum, DEFAULTS.sgd.momentum, { min: 0 }),
    weightDecay: numberFlag("weight-decay", flags["weight-decay"], 0, { min: 0 }),
    seed: numberFlag("seed", flags.seed, DEFAULTS.seed, {
      integer: true,
      min: 0,
      max: 2 ** 32 - 1,
    }),
    logEvery: numberFlag("log-every", flags["log-every"], DEFAULTS.logEvery, int),
    subset: numberFlag("subset", flags.subset, Infinity, int),
  };
  const tune = tuneLevel(flags.tune);
  if (config.momentum > 0 && optimizerName !== "sgd") {
    throw new UsageError("--momentum applies to --optimizer sgd only");
  }
  // A resumed run takes its settings from its state; flags may only repeat them.
  const resumeDir = typeof flags.resume === "string" && flags.resume ? flags.resume : undefined;
  let saved: TrainingState | undefined;
  if (resumeDir) {
    if (typeof flags.out === "string" && !await sameFile(flags.out, resumeDir)) {
      throw new UsageError(`--resume ${resumeDir} continues the run in that folder: drop --out`);
    }
    const path = `${resumeDir}/${STATE_FILE}`;
    saved = decodeTrainingState(await readRegularFile(path), path);
    const settings = saved.settings as Record<keyof typeof RUN_SETTINGS, unknown>;
    settings.subset ??= Infinity; // saved as null: JSON has no Infinity
    const changed = Object.entries(RUN_SETTINGS).filter(([key, flag]) =>
      flags[flag] !== undefined &&
      config[key as keyof typeof RUN_SETTINGS] !== settings[key as keyof typeof RUN_SETTINGS]
    ).map(([key, flag]) =>
      `--${flag} ${config[key as keyof typeof RUN_SETTINGS]} (the run has ${
        settings[key as keyof typeof RUN_SETTINGS]
      })`
    );
    if (changed.length) {
      throw new UsageError(
        `--resume ${resumeDir}: ${
          changed.join(", ")
        } would change the run; resume keeps its settings`,
      );
    }
    Object.assign(config, settings);
    const done = saved.progress.epoch;
    if (config.epochs <= done) {
      throw new UsageError(
        `--resume ${resumeDir}: the run has ${done} epoch${
          done === 1 ? "" : "s"
        } done, and --epochs (${config.epochs}) is the total: ask for more`,
      );
    }
  }
  const json = flags.json === true;
  // Human-readable lines go to stdout, or to stderr when stdout carries JSON.
  const say = (line: string) => (json ? console.error(line) : console.log(line));
  const emit = (event: Record<string, unknown>) => json && console.log(JSON.stringify(event));

  // Claimed (created, locked, checked writable) before anything slow happens.
  const out = await claimRunDir(
    resumeDir ?? (typeof flags.out === "string" && flags.out ? flags.out : undefined),
    flags.overwrite === true,
    resumeDir !== undefined,
  );

  // SIGINT and SIGTERM: before training, stop at once; during it, after the current step, with
  // the weights saved; either way the exit code says which signal (130, 143).
  const controller = new AbortController();
  let stopSignal: Deno.Signal | undefined;
  let training = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      stopSignal ??= signal;
      if (!training) exit(SIGNAL_EXIT[signal]);
      controller.abort();
    });
  }

  const data = await loadFashionMnist({ dataDir: flags["data-dir"] as string | undefined });
  if (config.subset < data.train.count) data.train = head(data.train, config.subset);
  const gpu = await commandGpu({ storageBufferBytes: data.train.images.length });
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
  const model = new Model(gpu, net);
  const fits = model.maxBatchSize("train");
  if (config.batchSize > fits) {
    const size = config.resize === DEFAULTS.inputSize ? "" : ` with --resize ${config.resize}`;
    throw new UsageError(
      `--batch-size ${config.batchSize}${size} needs buffers larger than this adapter allows (${gpu.device.limits.maxStorageBufferBindingSize} bytes each): --batch-size ${fits} or less fits`,
    );
  }
  // The evaluation batch the trainer will use; its forward ops are the training plan's when equal.
  const evalBatch = Math.min(
    Math.max(config.batchSize, DEFAULTS.evalBatchSize),
    model.maxBatchSize("eval"),
  );
  await tuneForCommand(model, tune, [
    { batch: config.batchSize, mode: "train" as const },
    ...(evalBatch === config.batchSize ? [] : [{ batch: evalBatch, mode: "eval" as const }]),
  ], say);
  for (const line of shapeSummary(net, model.inputShape)) say(line);
  const size = summary(net, model.inputShape);
  say(
    `parameters: ${size.totalParams.toLocaleString("en-US")} (${
      (size.paramBytes / 1024).toFixed(0)
    } KiB), forward: ${(size.multAdds / 1e6).toFixed(2)} M multiply-adds per image`,
  );
  const optimizer: Optimizer = config.optimizer === "adam"
    ? new Adam({ lr: config.lr, weightDecay: config.weightDecay })
    : new SGD({ lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay });
  if (saved) {
    model.loadStateDict(saved.model);
    optimizer.attach(model);
    optimizer.loadStateDict(saved.optimizer);
  }
  say(
    `training ${config.epochs} epoch${config.epochs === 1 ? "" : "s"}${
      saved ? ` (resuming after step ${saved.progress.step})` : ""
    }, batch ${config.batchSize}, ${optimizer}, output in ${out}`,
  );
  emit({
    event: "start",
    adapter: gpu.info,
    out,
    resumed_step: saved?.progress.step ?? 0,
    ...config,
  });

  const progress = new Progress(config.epochs);
  const losses: LossPoint[] = [...saved?.losses ?? []];
  const epochs: EpochMetrics[] = [...saved?.epochs ?? []];
  const stepsPerEpoch = Math.ceil(data.train.count / config.batchSize);
  // The run's files, all rewritten together: after each epoch, and once more at the end (with
  // the last partial loss window, and the weights as they are after an interrupt). The training
  // state comes first: resuming needs it, and it holds the weights too.
  const saveRun = async (chartLosses: readonly LossPoint[], progress: TrainProgress) => {
    await writeAtomic(
      `${out}/${STATE_FILE}`,
      encodeTrainingState({
        model: await model.stateDict(),
        optimizer: await optimizer.stateDict(),
        progress,
        settings: Object.fromEntries(
          Object.keys(RUN_SETTINGS).map((key) => {
            const v = config[key as keyof typeof RUN_SETTINGS];
            return [key, v === Infinity ? null : v];
          }),
        ),
        epochs,
        losses: [...chartLosses],
      }),
    );
    await writeAtomic(
      `${out}/metrics.jsonl`,
      epochs.map((e) => JSON.stringify(e)).join("\n") + (epochs.length ? "\n" : ""),
    );
    await writeAtomic(
      `${out}/loss.svg`,
      lossChartSvg({ losses: chartLosses, epochs, stepsPerEpoch }),
    );
    await writeAtomic(
      `${out}/model.safetensors`,
      await saveCheckpoint(model, {
        activation: config.activation,
        pool: config.pool,
        input_size: String(config.resize),
        epochs: String(epochs.length),
        test_accuracy: String(epochs.at(-1)?.test_accuracy ?? ""),
        producer: "lenet-webgpu",
      }),
    );
  };
  training = true;
  let history;
  try {
    history = await train(model, data, {
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
      resume: saved?.progress,
      onEpoch: async (m, where) => {
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
        await saveRun(losses, where);
      },
    });
  } catch (e) {
    progress.clear();
    // The files of the last finished epoch stay as they are: they are the last good state.
    if (e instanceof NonFiniteError || e instanceof GpuFaultError) {
      const kept = epochs.length
        ? `${out}/model.safetensors keeps the weights of epoch ${epochs.length}`
        : "no weights were saved";
      throw new Error(`training stopped: ${e.message}; ${kept}`);
    }
    throw e;
  }
  progress.clear();
  if (history.stopped) {
    say(`${stopSignal ?? "stop"}: interrupted after ${epochs.length} complete epochs`);
  }
  await saveRun([...saved?.losses ?? [], ...history.losses], history.progress);
  const final = epochs.at(-1);
  say(`done: test accuracy ${final?.test_accuracy.toFixed(4) ?? "-"}; outputs in ${out}`);
  emit({
    event: "done",
    out,
    stopped: history.stopped,
    test_accuracy: final?.test_accuracy ?? null,
  });
  if (stopSignal) exit(SIGNAL_EXIT[stopSignal]);
}

await runCli(main, "Run `deno task train --help` for the options.");
