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
  SIGNAL_EXIT,
  UsageError,
} from "./_args.ts";
import { commandGpu } from "./_gpu.ts";
import { claimRunDir } from "./_run_dir.ts";
import { Progress } from "./_progress.ts";
import {
  Adam,
  AdamW,
  DataError,
  DEFAULTS,
  describe,
  describeGpu,
  type EpochMetrics,
  evaluate,
  GpuFaultError,
  head,
  type ImageDataset,
  lenet5,
  loadCheckpoint,
  loadFashionMnist,
  lossChartSvg,
  Model,
  NonFiniteError,
  type Optimizer,
  saveCheckpoint,
  SGD,
  type Split,
  summary,
  train,
  type TrainProgress,
} from "../mod.ts";
import { shapeSummary } from "../engine.ts";
import {
  augmentOf,
  checkProgress,
  decodeTrainingState,
  describeRecipe,
  encodeTrainingState,
  holdOut,
  type LossPoint,
  type Recipe,
  RECIPE_NAMES,
  RECIPES,
  scheduleOf,
  SCHEDULES,
  type TrainingState,
} from "../engine.ts";
import { readRegularFile, sameFile, writeAllAtomic } from "../deno/files.ts";
import { TUNE_FLAG, tuneForCommand, tuneLevel } from "./_tune.ts";

const FLAGS = {
  recipe: {
    type: "string",
    default: "reference",
    value: RECIPE_NAMES.join("|"),
    help: `the settings' defaults: reference (the tutorial's: ${
      describeRecipe(RECIPES.reference)
    }), or modern (${describeRecipe(RECIPES.modern)}); each flag still overrides`,
  },
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
  optimizer: {
    type: "string",
    default: DEFAULTS.optimizer,
    value: "adam|adamw|sgd",
    help: "optimiser (torch.optim's)",
  },
  momentum: { type: "string", default: "0", value: "X", help: "SGD momentum" },
  "weight-decay": {
    type: "string",
    value: "X",
    help: "weight decay: L2 for adam and sgd, decoupled for adamw",
    default: `0, ${DEFAULTS.adamw.weightDecay} for adamw`,
  },
  schedule: {
    type: "string",
    default: "constant",
    value: "constant|cosine|onecycle",
    help: "learning rate per step: cosine annealing to 0 (after --warmup-steps), or one-cycle",
  },
  "warmup-steps": {
    type: "string",
    default: "0",
    value: "N",
    help: "linear warm-up from 0.1 × lr before --schedule cosine",
  },
  augment: {
    type: "string",
    default: "none",
    value: "LIST",
    help:
      "augment training images on the device: a comma list of crop (pad 2, random 28×28), flip (horizontal), erase (p 0.5, a 4–12 pixel rectangle)",
  },
  "label-smoothing": {
    type: "string",
    default: "0",
    value: "X",
    help: "CrossEntropyLoss(label_smoothing=X) for training, from 0 to 1",
  },
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
  validation: {
    type: "string",
    default: "0",
    value: "N",
    help:
      "hold out N training images (chosen by --seed): each epoch reports their loss and accuracy, best.safetensors keeps the best epoch's weights, and the test split is measured once, on them",
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
  recipe: "recipe",
  activation: "activation",
  pool: "pool",
  seed: "seed",
  optimizer: "optimizer",
  lr: "lr",
  momentum: "momentum",
  weightDecay: "weight-decay",
  schedule: "schedule",
  warmupSteps: "warmup-steps",
  labelSmoothing: "label-smoothing",
  augment: "augment",
  batchSize: "batch-size",
  subset: "subset",
  validation: "validation",
  resize: "resize",
} as const;

/** The flags given, without those left out (undefined). */
function definedOnly(flags: Record<string, string | boolean | undefined>) {
  return Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
}

/**
 * A recipe's settings as flag values: the defaults the flags given override. Its rate and weight
 * decay are its optimiser's: another `--optimizer` brings that one's defaults.
 */
function recipeFlags(r: Recipe, given: Record<string, string | boolean | undefined>) {
  const sameOptimizer = given.optimizer === undefined || given.optimizer === r.optimizer;
  return {
    activation: r.activation,
    pool: r.pool,
    optimizer: r.optimizer,
    ...(sameOptimizer ? { lr: String(r.lr), "weight-decay": String(r.weightDecay) } : {}),
    schedule: r.schedule,
    "label-smoothing": String(r.labelSmoothing),
    augment: r.augment,
    validation: String(r.validation),
    epochs: String(r.epochs),
    "batch-size": String(r.batchSize),
  };
}

/** A run's settings, as flags give them (and as a resumed run's state saved them). */
type RunConfig = ReturnType<typeof runConfig>;

/**
 * The run's settings from flag values, each checked as its flag is: the one validator for the
 * command line and for the settings a resumed run's state holds.
 */
function runConfig(given: Record<string, string | boolean | undefined>) {
  const recipe = choiceFlag("recipe", given.recipe, RECIPE_NAMES, "reference");
  const flags: Record<string, string | boolean | undefined> = {
    ...recipeFlags(RECIPES[recipe], given),
    ...definedOnly(given),
  };
  const optimizer = choiceFlag(
    "optimizer",
    flags.optimizer,
    ["adam", "adamw", "sgd"] as const,
    DEFAULTS.optimizer,
  );
  const int = { integer: true, min: 1 };
  const config = {
    recipe,
    ...architectureFlags(flags),
    epochs: numberFlag("epochs", flags.epochs, DEFAULTS.epochs, int),
    batchSize: numberFlag("batch-size", flags["batch-size"], DEFAULTS.batchSize, int),
    lr: numberFlag("lr", flags.lr, DEFAULTS[optimizer].lr, { exclusiveMin: 0 }),
    optimizer,
    momentum: numberFlag("momentum", flags.momentum, DEFAULTS.sgd.momentum, { min: 0 }),
    weightDecay: numberFlag(
      "weight-decay",
      flags["weight-decay"],
      optimizer === "adamw" ? DEFAULTS.adamw.weightDecay : 0,
      { min: 0 },
    ),
    schedule: choiceFlag("schedule", flags.schedule, SCHEDULES, "constant"),
    warmupSteps: numberFlag("warmup-steps", flags["warmup-steps"], 0, { integer: true, min: 0 }),
    labelSmoothing: numberFlag("label-smoothing", flags["label-smoothing"], 0, { min: 0, max: 1 }),
    augment: augmentFlag(flags.augment),
    seed: numberFlag("seed", flags.seed, DEFAULTS.seed, {
      integer: true,
      min: 0,
      max: 2 ** 32 - 1,
    }),
    logEvery: numberFlag("log-every", flags["log-every"], DEFAULTS.logEvery, int),
    subset: numberFlag("subset", flags.subset, Infinity, int),
    validation: numberFlag("validation", flags.validation, 0, { integer: true, min: 0 }),
  };
  if (config.momentum > 0 && optimizer !== "sgd") {
    throw new UsageError("--momentum applies to --optimizer sgd only");
  }
  if (config.warmupSteps > 0 && config.schedule !== "cosine") {
    throw new UsageError("--warmup-steps applies to --schedule cosine only");
  }
  return config;
}

/**
 * The state of the run in `--resume DIR`, its settings checked as flags are and applied to
 * `config`; flags may only repeat them.
 */
async function resumedState(
  flags: Record<string, string | boolean | undefined>,
  config: RunConfig,
): Promise<{ dir: string; state: TrainingState } | undefined> {
  const dir = typeof flags.resume === "string" && flags.resume ? flags.resume : undefined;
  if (!dir) return undefined;
  if (typeof flags.out === "string" && !await sameFile(flags.out, dir)) {
    throw new UsageError(`--resume ${dir} continues the run in that folder: drop --out`);
  }
  const path = `${dir}/${STATE_FILE}`;
  const state = decodeTrainingState(await readRegularFile(path), path);
  const settings = savedSettings(state, path);
  const key = (k: string) => k as keyof typeof RUN_SETTINGS;
  const changed = Object.entries(RUN_SETTINGS)
    .filter(([k, flag]) => flags[flag] !== undefined && config[key(k)] !== settings[key(k)])
    .map(([k, flag]) => `--${flag} ${config[key(k)]} (the run has ${settings[key(k)]})`);
  if (changed.length) {
    throw new UsageError(
      `--resume ${dir}: ${changed.join(", ")} would change the run; resume keeps its settings`,
    );
  }
  // A schedule spans the run's steps: its length is part of the run.
  const spans = (state.settings as Record<string, unknown>).epochs;
  if (settings.schedule !== "constant" && spans !== undefined && flags.epochs !== undefined) {
    if (Number(flags.epochs) !== spans) {
      throw new UsageError(
        `--resume ${dir}: --epochs ${flags.epochs} would stretch the run's ${settings.schedule} schedule over other steps (it spans ${spans} epochs)`,
      );
    }
  }
  Object.assign(config, settings);
  if (settings.schedule !== "constant" && typeof spans === "number") config.epochs = spans;
  const done = state.progress.epoch;
  if (config.epochs <= done) {
    throw new UsageError(
      `--resume ${dir}: the run has ${done} epoch${
        done === 1 ? "" : "s"
      } done, and --epochs (${config.epochs}) is the total: ask for more`,
    );
  }
  return { dir, state };
}

/** A state's run settings, validated by {@linkcode runConfig} as if they were flags. */
function savedSettings(
  state: TrainingState,
  path: string,
): Pick<RunConfig, keyof typeof RUN_SETTINGS> {
  const asFlags: Record<string, string> = {};
  for (const [key, flag] of Object.entries(RUN_SETTINGS)) {
    const v = (state.settings as Record<string, unknown>)[key];
    if (v === undefined || v === null) continue; // subset: saved as null (JSON has no Infinity)
    if (typeof v !== "string" && typeof v !== "number") {
      throw new DataError(path, `setting ${key} is ${JSON.stringify(v)}, not a value`);
    }
    asFlags[flag] = String(v);
  }
  try {
    const checked = runConfig(asFlags);
    return Object.fromEntries(
      Object.keys(RUN_SETTINGS).map((k) => [k, checked[k as keyof typeof RUN_SETTINGS]]),
    ) as Pick<RunConfig, keyof typeof RUN_SETTINGS>;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new DataError(path, `a saved setting is not valid: ${e.message.replace(/^--/, "")}`);
  }
}

/** Human-readable lines to stdout, or to stderr when stdout carries JSON events. */
function reporter(json: boolean) {
  return {
    say: (line: string) => (json ? console.error(line) : console.log(line)),
    emit: (event: Record<string, unknown>) => json && console.log(JSON.stringify(event)),
  };
}

/**
 * SIGINT and SIGTERM: before training, stop at once; during it, after the current step, with
 * the weights saved; either way the exit code says which signal (130, 143).
 */
function stopOnSignals() {
  const stop = {
    controller: new AbortController(),
    signal: undefined as keyof typeof SIGNAL_EXIT | undefined,
    training: false,
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      stop.signal ??= signal;
      if (!stop.training) exit(SIGNAL_EXIT[signal]);
      stop.controller.abort();
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

/** The optimiser of the run, with a resumed run's state loaded. */
function optimizerFor(config: RunConfig, model: Model, saved?: TrainingState): Optimizer {
  const { lr, weightDecay, momentum } = config;
  const optimizer: Optimizer = config.optimizer === "adam"
    ? new Adam({ lr, weightDecay })
    : config.optimizer === "adamw"
    ? new AdamW({ lr, weightDecay })
    : new SGD({ lr, momentum, weightDecay });
  if (saved) {
    model.loadStateDict(saved.model);
    optimizer.attach(model);
    optimizer.loadStateDict(saved.optimizer);
  }
  return optimizer;
}

/**
 * The run's files, all rewritten together as one commit: after each epoch, and once more at the
 * end (with the last partial loss window, and the weights as they are after an interrupt). The
 * training state is renamed last: it is what `--resume` reads, so a crash mid-save leaves it at
 * the previous save, which the resumed run continues from exactly (rewriting the others).
 */
function runFiles(
  out: string,
  run: { model: Model; optimizer: Optimizer; config: RunConfig; epochs: EpochMetrics[] },
  stepsPerEpoch: number,
) {
  const { model, optimizer, config, epochs } = run;
  return async (losses: readonly LossPoint[], progress: TrainProgress) => {
    const settings = {
      ...Object.fromEntries(
        Object.keys(RUN_SETTINGS).map((key) => {
          const v = config[key as keyof typeof RUN_SETTINGS];
          return [key, v === Infinity ? null : v];
        }),
      ),
      // The run's length, which a schedule spans (resume keeps it then).
      epochs: config.epochs,
    };
    const weights = await model.stateDict();
    const state = {
      model: weights,
      optimizer: await optimizer.stateDict(),
      progress,
      settings,
      network: describe(model.network, model.inputShape),
    };
    const lines = epochs.map((e) => JSON.stringify(e)).join("\n") + (epochs.length ? "\n" : "");
    const metadata = runMetadata(config, epochs, progress, stepsPerEpoch);
    // The weights of the best validation epoch so far, saved when they are the current ones.
    const atEpochEnd = progress.batch === 0 && progress.epoch === epochs.length;
    const best = bestEpoch(epochs);
    const bestFile: [string, Uint8Array][] = best && atEpochEnd && best === epochs.at(-1)
      ? [[
        `${out}/best.safetensors`,
        await saveCheckpoint(model, { ...metadata, val_accuracy: String(best.val_accuracy) }),
      ]]
      : [];
    await writeAllAtomic([
      ...bestFile,
      [`${out}/metrics.jsonl`, lines],
      [`${out}/loss.svg`, lossChartSvg({ losses, epochs, stepsPerEpoch })],
      [`${out}/model.safetensors`, await saveCheckpoint(model, metadata)],
      [`${out}/${STATE_FILE}`, encodeTrainingState({ ...state, epochs, losses: [...losses] })],
    ]);
  };
}

/** The epoch of the best validation accuracy (the first of equals), if the run validates. */
function bestEpoch(epochs: readonly EpochMetrics[]): EpochMetrics | undefined {
  return epochs.reduce<EpochMetrics | undefined>(
    (best, e) =>
      e.val_accuracy !== undefined && (!best || e.val_accuracy > best.val_accuracy!) ? e : best,
    undefined,
  );
}

/**
 * The test split measured once, on the best validation epoch's weights (best.safetensors),
 * written to selection.json: what a run that selects on validation reports.
 */
async function measureSelection(
  out: string,
  model: Model,
  test: Split,
  epochs: readonly EpochMetrics[],
): Promise<Record<string, number> | undefined> {
  const best = bestEpoch(epochs);
  if (!best) return undefined;
  loadCheckpoint(
    model,
    await readRegularFile(`${out}/best.safetensors`),
    `${out}/best.safetensors`,
  );
  const result = await evaluate(model, test);
  const selection = {
    selected_epoch: best.epoch,
    val_loss: best.val_loss!,
    val_accuracy: best.val_accuracy!,
    test_loss: result.loss,
    test_accuracy: result.accuracy,
  };
  await writeAllAtomic([[`${out}/selection.json`, JSON.stringify(selection, null, 2) + "\n"]]);
  return selection;
}

/**
 * What model.safetensors says of its weights: the architecture, the epochs done, the step, and
 * the test accuracy only when the weights are those it was measured on (an epoch's end).
 */
function runMetadata(
  config: RunConfig,
  epochs: readonly EpochMetrics[],
  progress: TrainProgress,
  stepsPerEpoch: number,
): Record<string, string> {
  const atEpochEnd = progress.batch === 0 && progress.epoch === epochs.length;
  return {
    activation: config.activation,
    pool: config.pool,
    input_size: String(config.resize),
    recipe: config.recipe,
    epochs: String(progress.epoch),
    step: String(progress.step),
    test_accuracy: atEpochEnd ? String(epochs.at(-1)?.test_accuracy ?? "") : "",
    ...(atEpochEnd ? {} : {
      interrupted: `in epoch ${
        progress.epoch + 1
      } after ${progress.batch} of ${stepsPerEpoch} batches: these weights were not evaluated`,
    }),
    producer: "lenet-webgpu",
  };
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
  const saveRun = runFiles(out, { model, optimizer, config, epochs }, stepsPerEpoch);
  stop.training = true;
  const history = await trainReporting({ model, data, optimizer, config, epochs, saved, out }, {
    say,
    emit,
    saveRun,
    signal: stop.controller.signal,
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

/** The augmentations `--augment` may list. */
const AUGMENTATIONS = ["crop", "flip", "erase"] as const;

/** `--augment LIST`: the augmentations, in a canonical order (`none` for none). */
function augmentFlag(raw: string | boolean | undefined): string {
  if (raw === undefined || raw === "none" || raw === "") return "none";
  const names = String(raw).split(",").map((n) => n.trim());
  const unknown = names.filter((n) => !(AUGMENTATIONS as readonly string[]).includes(n));
  if (unknown.length || typeof raw !== "string") {
    throw new UsageError(
      `--augment expects none or a comma list of ${AUGMENTATIONS.join(", ")}, got "${raw}"`,
    );
  }
  return AUGMENTATIONS.filter((n) => names.includes(n)).join(",");
}

/** Trains, logging each step and epoch and saving the run's files after each epoch. */
async function trainReporting(
  run: {
    model: Model;
    data: ImageDataset & { validation?: Split };
    optimizer: Optimizer;
    config: RunConfig;
    epochs: EpochMetrics[];
    saved?: TrainingState;
    out: string;
  },
  io: {
    say: (line: string) => void;
    emit: (event: Record<string, unknown>) => void;
    saveRun: (losses: readonly LossPoint[], progress: TrainProgress) => Promise<void>;
    signal: AbortSignal;
  },
) {
  const { model, data, optimizer, config, epochs, saved, out } = run;
  const progress = new Progress(config.epochs);
  const losses: LossPoint[] = [...saved?.losses ?? []];
  try {
    // With a validation split the test split is measured once, on the selected weights.
    const splits = data.validation
      ? { train: data.train, validation: data.validation }
      : { train: data.train, test: data.test };
    return await train(model, splits, {
      epochs: config.epochs,
      batchSize: config.batchSize,
      optimizer,
      seed: config.seed,
      logEvery: config.logEvery,
      signal: io.signal,
      onStep: (e) => {
        if (e.loss !== undefined) {
          losses.push({ step: e.step, loss: e.loss });
          const ips = e.images / e.seconds;
          io.emit({
            event: "step",
            epoch: e.epoch,
            step: e.step,
            loss: e.loss,
            images_per_second: ips,
          });
        }
        progress.step(e);
      },
      resume: saved?.progress,
      schedule: scheduleOf(config.schedule, config.warmupSteps),
      labelSmoothing: config.labelSmoothing,
      augment: augmentOf(config.augment, config.seed),
      onNote: (note) => console.error(`note: ${note}`),
      onEpoch: async (m, where) => {
        epochs.push(m);
        progress.clear();
        const [split, loss, accuracy] = m.val_accuracy === undefined
          ? ["test", m.test_loss, m.test_accuracy]
          : ["validation", m.val_loss!, m.val_accuracy];
        io.say(
          `epoch ${m.epoch}/${config.epochs}: train loss ${
            m.train_loss.toFixed(4)
          }, ${split} loss ${loss.toFixed(4)}, ${split} accuracy ${accuracy.toFixed(4)} | ${
            m.train_seconds.toFixed(1)
          } s, ` +
            `${m.images_per_second.toFixed(0)} img/s, eval ${m.eval_seconds.toFixed(1)} s`,
        );
        io.emit({ event: "epoch", ...m });
        await io.saveRun(losses, where);
      },
    });
  } catch (e) {
    // The files of the last finished epoch stay as they are: they are the last good state.
    if (e instanceof NonFiniteError || e instanceof GpuFaultError) {
      const kept = epochs.length
        ? `${out}/model.safetensors keeps the weights of epoch ${epochs.length}`
        : "no weights were saved";
      throw new Error(`training stopped: ${e.message}; ${kept}`);
    }
    throw e;
  } finally {
    progress.clear();
  }
}

await runCli(main, "Run `deno task train --help` for the options.");
