// `deno task train`'s flags and the run's settings: the flag table, a recipe's defaults under
// the flags given, and the one validator for the command line and a resumed run's saved settings.
import {
  ARCHITECTURE_FLAGS,
  architectureFlags,
  choiceFlag,
  numberFlag,
  UsageError,
} from "./_args.ts";
import { TUNE_FLAG } from "./_tune.ts";
import { DEFAULTS, FASHION_MNIST } from "../mod.ts";
import {
  checkSchedule,
  describeRecipe,
  type Recipe,
  RECIPE_NAMES,
  RECIPES,
  scheduleOf,
  SCHEDULES,
} from "../engine.ts";

/** Every flag of `deno task train`: type, value, help and default, for the parser and --help. */
export const FLAGS = {
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

export const USAGE = "Usage: deno task train [options]";

/** The settings that define a run: a resumed run must keep them. Key → flag. */
export const RUN_SETTINGS = {
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
export type RunConfig = ReturnType<typeof runConfig>;

/**
 * The run's settings from flag values, each checked as its flag is: the one validator for the
 * command line and for the settings a resumed run's state holds.
 */
export function runConfig(given: Record<string, string | boolean | undefined>) {
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

/**
 * The run's schedule checked against the steps the run will take, from the flags alone (the
 * training images are the data set's 60,000, or --subset's, less --validation), so that a bad
 * combination is refused naming its flags before any data is read.
 */
export function checkScheduleFlags(config: RunConfig): void {
  if (config.schedule === "constant") return;
  const images = Math.min(config.subset, FASHION_MNIST.counts!.train) - config.validation;
  if (images < 1) return; // --validation's own check names it, once the data is read
  const batches = Math.ceil(images / config.batchSize);
  const steps = config.epochs * batches;
  const run = `${steps} step${
    steps === 1 ? "" : "s"
  } (--epochs ${config.epochs} × ${batches} batch${
    batches === 1 ? "" : "es"
  } of --batch-size ${config.batchSize})`;
  try {
    checkSchedule(scheduleOf(config.schedule, config.warmupSteps), config.lr, steps);
  } catch (e) {
    const message = (e as Error).message;
    if (/warmupSteps/.test(message)) {
      throw new UsageError(`--warmup-steps ${config.warmupSteps} must be below the run's ${run}`);
    }
    if (/too short to rise/.test(message)) {
      throw new UsageError(
        `--schedule onecycle needs a run of at least 4 steps to rise and fall; this one has ${run}`,
      );
    }
    throw new UsageError(
      `--schedule ${config.schedule}: ${message.replace(/^schedule \w+: /, "")}`,
    );
  }
}
