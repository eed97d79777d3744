/// <reference lib="dom" />
// The page's script: the same lib/ and data/ code as in Deno, bundled for the browser
// (`deno task web` builds and serves it). `?auto` trains a short run by itself and writes
// {"test_accuracy": ..., "images_per_second": ...} into #result; `?epochs=N&subset=N` change
// that run, `?inspect=N` then inspects test image N as a click on it does. Clicking a test image
// shows what the network makes of it: feature maps, saliency, filters. `?tune=off|cached|full` picks kernel variants as `--tune` does (default `cached`:
// the picks a `full` run stored in this browser's localStorage).
import {
  Adam,
  DEFAULTS,
  describeGpu,
  evaluate,
  FASHION_MNIST,
  fetchIdxDataset,
  head,
  inspect,
  lenet5,
  Model,
  requestGpu,
  type Split,
  train,
  tune,
  type TuneLevel,
} from "../../mod.ts";
import {
  ACTIVATION_KINDS,
  type ActivationKind,
  historyHtml,
  inspectionSvg,
  localStorageTuningStore,
  type LossPoint,
  predictionGridHtml,
  type RecipeName,
  TUNE_LEVELS,
} from "../../engine.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string) => ($("status").textContent = text);
const params = new URLSearchParams(location.search);

/**
 * `raw` (a query parameter or a form field, named `label`) as a whole number from `min` to `max`,
 * `fallback` when absent; anything else throws an error naming it, as the command line's flags do.
 */
function wholeNumber(
  label: string,
  raw: string | null,
  fallback: number,
  min: number,
  max: number,
) {
  if (raw === null || raw === "") return fallback;
  const v = Number(raw);
  if (!(raw.trim() !== "" && Number.isInteger(v) && v >= min && v <= max)) {
    throw new RangeError(`${label} expects a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return v;
}

/** Query parameter `name` checked by {@linkcode wholeNumber}. */
const intParam = (name: string, fallback: number, min: number, max: number) =>
  wholeNumber(`?${name}=`, params.get(name), fallback, min, max);

/** The training images there are: the most `subset` can take. */
const TRAIN_IMAGES = FASHION_MNIST.counts!.train;

function loadData() {
  return fetchIdxDataset(FASHION_MNIST, new URL("./data/", location.href).href);
}

/** The model last trained, kept for inspecting the test images shown (freed by the next run). */
let trained: { model: Model; test: Split; classNames: readonly string[] } | undefined;

/** Shows what the trained network makes of test image `n` (what a click on it does). */
async function inspectImage(n: number) {
  if (!trained) return undefined;
  if (!(Number.isInteger(n) && n >= 0 && n < trained.test.count)) {
    throw new RangeError(`test image ${n} is not one of 0 to ${trained.test.count - 1}`);
  }
  const { model, test, classNames } = trained;
  const image = Float32Array.from(test.images.subarray(n * 784, (n + 1) * 784), (v) => v / 255);
  const result = await inspect(model, image, { classNames });
  const svg = inspectionSvg(result);
  $("inspection").innerHTML = `<h2>Test image ${n}</h2>${svg}`;
  return { image: n, predicted: result.top[0].name, pictures: svg.match(/<image /g)!.length };
}

async function run(
  options: { epochs: number; subset: number; activation: ActivationKind; recipe: RecipeName },
) {
  $<HTMLButtonElement>("train").disabled = true;
  status("Loading Fashion-MNIST…");
  const data = await loadData();
  const gpu = await requestGpu();
  trained?.model.dispose();
  trained = undefined;
  const model = new Model(gpu, lenet5({ activation: options.activation, pool: "max", seed: 0 }));
  const optimizer = new Adam();
  const trainSplit = head(data.train, options.subset), test = head(data.test, 2000);
  const batchSize = 64, stepsPerEpoch = Math.ceil(trainSplit.count / batchSize);
  const level = (params.get("tune") ?? DEFAULTS.tune) as TuneLevel;
  if (!TUNE_LEVELS.includes(level)) {
    throw new Error(`?tune=${level}: expected one of ${TUNE_LEVELS.join(", ")}`);
  }
  if (level === "full") status(`Timing every kernel variant on ${describeGpu(gpu)}…`);
  await tune(model, level, {
    store: localStorageTuningStore(),
    plans: [{ batch: batchSize, mode: "train" }],
  });
  const losses: LossPoint[] = [];
  try {
    status(`Training on ${describeGpu(gpu)}…`);
    // The modern recipe's optimiser, schedule, smoothing and augmentation (train()'s recipe
    // option); the form's epochs and the page's batch still apply.
    const history = await train(model, { train: trainSplit, test }, {
      recipe: options.recipe,
      epochs: options.epochs,
      batchSize,
      logEvery: 8,
      optimizer: options.recipe === "reference" ? optimizer : undefined,
      onStep: (e) => {
        if (e.loss !== undefined) losses.push({ step: e.step, loss: e.loss });
        if (e.batch % 8 === 0 || e.batch === e.batches) {
          status(
            `epoch ${e.epoch}, step ${e.batch}/${e.batches}, ${
              (e.images / e.seconds).toFixed(0)
            } images/s`,
          );
          $("chart").innerHTML = historyHtml(losses, [], stepsPerEpoch);
        }
      },
    });
    $("chart").innerHTML = historyHtml(history.losses, history.epochs, stepsPerEpoch);
    const result = await evaluate(model, test, { predictions: true, classNames: data.classNames });
    const n = 48;
    $("predictions").innerHTML = predictionGridHtml(
      test.images.subarray(0, n * 784),
      28,
      28,
      test.labels.subarray(0, n),
      result.predictions!.classes.subarray(0, n),
      data.classNames,
    );
    status(
      `Test accuracy ${
        result.accuracy.toFixed(4)
      } on ${result.count} images. Click an image to see inside.`,
    );
    trained = { model, test, classNames: data.classNames };
    return {
      test_accuracy: result.accuracy,
      images_per_second: history.epochs.at(-1)!.images_per_second,
      tune: level,
    };
  } finally {
    optimizer.dispose();
    if (!trained) model.dispose();
    $<HTMLButtonElement>("train").disabled = false;
  }
}

function options() {
  return {
    epochs: wholeNumber("epochs", $<HTMLInputElement>("epochs").value, 1, 1, 1000),
    subset: wholeNumber("subset", $<HTMLInputElement>("subset").value, 8192, 1, TRAIN_IMAGES),
    activation: $<HTMLSelectElement>("activation").value as ActivationKind,
    recipe: $<HTMLSelectElement>("recipe").value as RecipeName,
  };
}

async function start(auto: boolean) {
  try {
    const outcome = await run(
      auto
        ? {
          epochs: intParam("epochs", 1, 1, 1000),
          subset: intParam("subset", 2048, 1, TRAIN_IMAGES),
          activation: "relu",
          recipe: (params.get("recipe") ?? "reference") as RecipeName,
        }
        : options(),
    );
    const inspected = auto && params.has("inspect")
      ? await inspectImage(intParam("inspect", 0, 0, 1999))
      : undefined;
    if (auto) $("result").textContent = JSON.stringify({ ...outcome, inspected });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    status(`Error: ${message}`);
    if (auto) $("result").textContent = JSON.stringify({ error: message });
  }
}

$("train").addEventListener("click", () => start(false));
$("predictions").addEventListener("click", (event) => {
  const figure = (event.target as HTMLElement).closest("figure");
  if (!figure?.parentElement) return;
  const n = [...figure.parentElement.children].indexOf(figure);
  inspectImage(n).catch((e) => status(`Error: ${e instanceof Error ? e.message : e}`));
});
// The activation select offers every kind of the table (kernels/activation.ts), ReLU first chosen.
$<HTMLSelectElement>("activation").replaceChildren(
  ...ACTIVATION_KINDS.map((kind) => new Option(kind, kind, kind === "relu", kind === "relu")),
);
status(navigator.gpu ? "Ready." : "This browser has no WebGPU (navigator.gpu).");
if (params.has("auto")) start(true);
