/**
 * `deno task predict --checkpoint FILE IMAGE...`: the three likeliest classes of each picture
 * (PNG, JPEG or PGM, any size, colour or grey), prepared the way Fashion-MNIST was made: grey,
 * trimmed, fitted into 28×28, a light object on a dark ground (photos of dark objects on a light
 * ground are negated; `--invert auto` decides from the border and says so). `--index N` takes
 * test image N instead. `--explain DIR` draws what the network made of each (`inspect`).
 *
 * @module
 */
import { choiceFlag, helpText, numberFlag, parseFlags, runCli, UsageError } from "./_args.ts";
import { CHECKPOINT_FLAGS, modelFromCheckpoint } from "./_checkpoint.ts";
import { decodeImage } from "./_decode.ts";
import { readRegularFile, writeAtomic } from "../deno/files.ts";
import { modelInput, toFashionInput } from "../data/images.ts";
import {
  evaluate,
  FASHION_MNIST,
  inspect,
  loadFashionMnist,
  type Model,
  splitFromArrays,
} from "../mod.ts";
import { inspectionSvg } from "../engine.ts";
import { outputFolder, outputPath } from "./_run_dir.ts";

const FLAGS = {
  ...CHECKPOINT_FLAGS,
  index: { type: "string", value: "N", help: "predict test image N (0 to 9999) instead of files" },
  invert: {
    type: "string",
    value: "yes|no|auto",
    help: "negate the pictures (dark object on light ground); auto decides from the border",
    default: "auto",
  },
  "data-dir": {
    type: "string",
    value: "DIR",
    help: "folder with the Fashion-MNIST test files (for --index)",
    default: "searched",
  },
  json: {
    type: "boolean",
    help: "one JSON line per input: input, top (label, class, probability)",
  },
  explain: {
    type: "string",
    value: "DIR",
    help:
      "also write DIR/<input>.svg for each input: the input as prepared, the feature maps, the saliency map, the top 3",
  },
  help: { type: "boolean", help: "show this help" },
} as const;

const USAGE = "Usage: deno task predict --checkpoint FILE [options] IMAGE...";

/** Largest image file read, in bytes. */
const MAX_FILE_BYTES = 256 * 2 ** 20;

interface Input {
  name: string;
  pixels: Uint8Array;
  note: string;
  inverted?: boolean;
  label?: number;
}

async function main() {
  const files: string[] = [];
  const flags = parseFlags(Deno.args, FLAGS, files);
  if (flags.help) {
    console.log(helpText(USAGE, FLAGS));
    return;
  }
  const invert = choiceFlag("invert", flags.invert, ["yes", "no", "auto"] as const, "auto");
  const index = flags.index === undefined
    ? undefined
    : numberFlag("index", flags.index, 0, { integer: true, min: 0, max: 9999 });
  if (!files.length && index === undefined) {
    throw new UsageError("give one or more IMAGE files, or --index N for a test image");
  }
  const explain = typeof flags.explain === "string" && flags.explain ? flags.explain : undefined;
  if (flags.explain !== undefined && !explain) throw new UsageError("--explain DIR needs a folder");
  if (explain) await outputFolder("--explain", explain);
  // Every file is decoded before the model loads: a bad one fails fast, naming itself.
  const inputs: Input[] = [];
  for (const file of files) {
    const image = decodeImage(await readRegularFile(file, MAX_FILE_BYTES), file);
    const input = toFashionInput(image, { invert });
    const note = `${image.width}×${image.height}, ${
      input.inverted ? "negated" : "not negated"
    } (${input.reason})`;
    inputs.push({ name: file, pixels: input.pixels, note, inverted: input.inverted });
  }
  if (index !== undefined) {
    const { test } = await loadFashionMnist({
      dataDir: flags["data-dir"] as string | undefined,
      splits: ["test"],
    });
    const size = test.rows * test.cols;
    inputs.push({
      name: `test image ${index}`,
      pixels: test.images.slice(index * size, (index + 1) * size),
      note: `labelled ${FASHION_MNIST.classNames[test.labels[index]]}`,
      label: test.labels[index],
    });
  }
  // Every explanation's file is named and checked before the model loads.
  const explained = explain
    ? await explanationPaths(inputs, explain, [...files, String(flags.checkpoint)])
    : [];
  const { model } = await modelFromCheckpoint(flags);
  // Through the same device gather as training and evaluation (it resizes for resized models).
  const pixels = new Uint8Array(inputs.length * 28 * 28);
  inputs.forEach((input, k) => pixels.set(input.pixels, k * 28 * 28));
  const split = splitFromArrays(pixels, new Uint8Array(inputs.length), 28, 28);
  const { predictions } = await evaluate(model, split, { predictions: true });
  const k = model.classes;
  inputs.forEach((input, n) => {
    const logits = predictions!.logits.subarray(n * k, (n + 1) * k);
    const top = Math.max(...logits);
    const exp = Array.from(logits, (v) => Math.exp(v - top));
    const total = exp.reduce((a, b) => a + b, 0);
    const ranked = exp.map((e, label) => ({
      label,
      class: FASHION_MNIST.classNames[label],
      probability: e / total,
    })).sort((a, b) => b.probability - a.probability).slice(0, 3);
    if (flags.json) {
      console.log(JSON.stringify({
        input: input.name,
        top: ranked,
        ...(input.label === undefined ? { inverted: input.inverted } : { true_label: input.label }),
      }));
    } else {
      const guesses = ranked.map((r) => `${r.class} ${(100 * r.probability).toFixed(1)}%`).join(
        ", ",
      );
      console.log(`${input.name}: ${guesses}  [${input.note}]`);
    }
  });
  if (explain) await explainAll(model, inputs, explained);
}

/**
 * The SVG each input's explanation goes to in `dir` (named after the input, made unique), each
 * checked as every output is: never an input or the checkpoint, never a run's file.
 */
async function explanationPaths(
  inputs: readonly Input[],
  dir: string,
  readsFrom: readonly string[],
): Promise<string[]> {
  const used = new Set<string>();
  const paths: string[] = [];
  for (const input of inputs) {
    const stem = input.name.split("/").at(-1)!.replace(/\.[^.]*$/, "").replace(/[^\w.-]+/g, "_");
    let name = stem;
    for (let n = 2; used.has(name); n++) name = `${stem}-${n}`;
    used.add(name);
    paths.push(await outputPath("--explain", `${dir}/${name}.svg`, { inputs: readsFrom }));
  }
  return paths;
}

/**
 * One SVG per input at `paths`: the input as the model saw it, its feature maps, the saliency
 * map of the predicted class and the top 3 (see `inspect`).
 */
async function explainAll(model: Model, inputs: Input[], paths: readonly string[]): Promise<void> {
  const side = model.inputShape.at(-1)!;
  for (const [k, input] of inputs.entries()) {
    const image = modelInput(input.pixels, 28, 28, side);
    const result = await inspect(model, image, { classNames: FASHION_MNIST.classNames });
    await writeAtomic(paths[k], inspectionSvg(result));
    console.log(`${input.name}: explained in ${paths[k]}`);
  }
}

await runCli(main, "Run `deno task predict --help` for the options.");
