/**
 * `deno task train`: trains LeNet-5 on Fashion-MNIST as the reference program does, and leaves
 * `metrics.jsonl`, `loss.svg` and `model.safetensors` in `--out`.
 *
 * @module
 */
import { exit, helpText, parseFlags, runCli, SIGNAL_EXIT, UsageError } from "./_args.ts";
import { commandGpu } from "./_gpu.ts";
import { claimRunDir } from "./_run_dir.ts";
import {
  DataError,
  DEFAULTS,
  describeGpu,
  type EpochMetrics,
  head,
  type ImageDataset,
  lenet5,
  loadFashionMnist,
  Model,
  type Optimizer,
  type Split,
  summary,
  type TrainProgress,
} from "../mod.ts";
import {
  checkProgress,
  holdOut,
  type LossPoint,
  optimizerOf,
  shapeSummary,
  type TrainingState,
} from "../engine.ts";
import { tuneForCommand, tuneLevel } from "./_tune.ts";
import { checkScheduleFlags, FLAGS, type RunConfig, runConfig, USAGE } from "./_train_config.ts";
import { resumedState } from "./_train_resume.ts";
import { measureSelection, runFiles, STATE_FILE } from "./_train_files.ts";
import { reporter, trainReporting } from "./_train_report.ts";

/** How long a signal in training waits for the current phase to end before stopping anyway. */
const GRACE_MS = 3000;

/**
 * SIGINT and SIGTERM: before training, stop at once; during it, after the current step with the
 * weights saved, unless the phase (compiling, one long step, an evaluation) goes on past 3 s:
 * then the run stops there, saying what it stopped and what its folder keeps. A save is never cut
 * short. The exit code says which signal (130, 143). A kernel's compile is one native call that
 * cannot be interrupted: the run says what it is compiling before it starts, and a signal takes
 * effect when the call returns (lavapipe spent minutes on one kernel of a 539×539 LeNet).
 */
function stopOnSignals() {
  const stop = {
    controller: new AbortController(),
    signal: undefined as keyof typeof SIGNAL_EXIT | undefined,
    training: false,
    phase: "setting up",
    /** What the run's folder keeps, for a stop that cannot wait for the next save. */
    kept: () => "",
  };
  const stopNow = (signal: keyof typeof SIGNAL_EXIT) => {
    console.error(
      `${signal}: stopped while ${stop.phase}${stop.training ? `; ${stop.kept()}` : ""}`,
    );
    exit(SIGNAL_EXIT[signal]);
  };
  const waitForPhase = (signal: keyof typeof SIGNAL_EXIT) => {
    if (stop.phase.startsWith("saving")) {
      Deno.unrefTimer(setTimeout(() => waitForPhase(signal), 250));
    } else stopNow(signal);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      // Compiling has nothing to save: stop as soon as the native call in progress returns.
      if (!stop.training || stop.phase.startsWith("compiling")) return stopNow(signal);
      if (stop.signal) return; // the first one's wait is running
      stop.signal = signal;
      stop.controller.abort();
      Deno.unrefTimer(setTimeout(() => waitForPhase(signal), GRACE_MS));
    });
  }
  return stop;
}

/** The data, the device and the model, its batch checked against the adapter, tuned. */
async function setUp(
  flags: Record<string, string | boolean | undefined>,
  config: RunConfig,
  say: (line: string) => void,
) {
  const data: ImageDataset & { validation?: Split } = await loadFashionMnist({
    dataDir: flags["data-dir"] as string | undefined,
  });
  if (config.subset < data.train.count) data.train = head(data.train, config.subset);
  if (config.validation > 0) {
    const rest = data.train.count - config.validation;
    if (rest < config.batchSize) {
      throw new UsageError(
        `--validation ${config.validation} leaves ${rest} of ${data.train.count} training images, less than one batch of ${config.batchSize}`,
      );
    }
    Object.assign(data, holdOut(data.train, config.validation, config.seed));
  }
  const gpu = await commandGpu({ storageBufferBytes: data.train.images.length });
  say(`adapter: ${describeGpu(gpu)}`);
  say(
    `data: ${data.name} from ${data.source} (${data.train.count} train, ${
      data.validation ? `${data.validation.count} validation, ` : ""
    }${data.test.count} test)`,
  );
  const { activation, pool, seed, resize } = config;
  const net = lenet5({ activation, pool, seed, inputSize: resize });
  const model = new Model(gpu, net);
  const fits = model.maxBatchSize("train");
  if (fits < 1) {
    throw new UsageError(
      `--resize ${config.resize}: even a batch of 1 needs buffers larger than this adapter allows (${gpu.device.limits.maxStorageBufferBindingSize} bytes each)`,
    );
  }
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
  await tuneForCommand(model, tuneLevel(flags.tune), [
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
  return { data, gpu, model };
}

/** The optimiser of the run (the recipe module's one factory), with a resumed run's state loaded. */
function optimizerFor(config: RunConfig, model: Model, saved?: TrainingState): Optimizer {
  const optimizer = optimizerOf(config);
  if (saved) {
    model.loadStateDict(saved.model);
    optimizer.attach(model);
    optimizer.loadStateDict(saved.optimizer);
  }
  return optimizer;
}

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText(USAGE, FLAGS));
    return;
  }
  const config = runConfig(flags);
  tuneLevel(flags.tune); // a bad --tune is refused before any work
  const resumed = await resumedState(flags, config);
  checkScheduleFlags(config);
  const saved = resumed?.state;
  const { say, emit } = reporter(flags.json === true);
  // Claimed (created, locked, checked writable) before anything slow happens.
  const out = await claimRunDir(
    resumed?.dir ?? (typeof flags.out === "string" && flags.out ? flags.out : undefined),
    flags.overwrite === true,
    resumed !== undefined,
  );
  const stop = stopOnSignals();
  const { data, gpu, model } = await setUp(flags, config, say);
  const stepsPerEpoch = Math.ceil(data.train.count / config.batchSize);
  if (resumed) {
    try {
      checkProgress(resumed.state.progress, stepsPerEpoch);
    } catch (e) {
      throw new DataError(`${resumed.dir}/${STATE_FILE}`, `progress: ${(e as Error).message}`);
    }
  }
  const optimizer = optimizerFor(config, model, saved);
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
  const epochs: EpochMetrics[] = [...saved?.epochs ?? []];
  const save = runFiles(out, { model, optimizer, config, epochs }, stepsPerEpoch);
  const saveRun = async (losses: readonly LossPoint[], progress: TrainProgress) => {
    const phase = stop.phase;
    stop.phase = "saving the run's files";
    await save(losses, progress);
    stop.phase = phase;
  };
  stop.kept = () =>
    epochs.length
      ? `${out} keeps the files saved after epoch ${epochs.length}`
      : `no epoch ended, so ${out} holds no weights of this run`;
  stop.training = true;
  const history = await trainReporting({ model, data, optimizer, config, epochs, saved, out }, {
    say,
    emit,
    saveRun,
    signal: stop.controller.signal,
    onPhase: (phase) => {
      stop.phase = phase;
      // A compile is one native call per kernel: say what is being waited for.
      if (phase.startsWith("compiling")) say(`${phase}…`);
    },
  });
  if (history.stopped) {
    say(`${stop.signal ?? "stop"}: interrupted after ${epochs.length} complete epochs`);
  }
  await saveRun([...saved?.losses ?? [], ...history.losses], history.progress);
  const selection = await measureSelection(out, model, data.test, epochs);
  if (selection) {
    say(
      `selected epoch ${selection.selected_epoch} (validation accuracy ${
        selection.val_accuracy.toFixed(4)
      }): test accuracy ${selection.test_accuracy.toFixed(4)}`,
    );
  }
  const final = selection?.test_accuracy ?? epochs.at(-1)?.test_accuracy;
  say(`done: test accuracy ${final?.toFixed(4) ?? "-"}; outputs in ${out}`);
  emit({
    event: "done",
    out,
    stopped: history.stopped,
    test_accuracy: final ?? null,
    ...selection,
  });
  if (stop.signal) exit(SIGNAL_EXIT[stop.signal]);
}

await runCli(main, "Run `deno task train --help` for the options.");
