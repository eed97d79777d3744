/**
 * `deno task predict --checkpoint FILE IMAGE...`: the three likeliest classes of each picture
 * (PNG, JPEG or PGM, any size, colour or grey), prepared the way Fashion-MNIST was made: grey,
 * trimmed, fitted into 28×28, a light object on a dark ground (photos of dark objects on a light
 * ground are negated; `--invert auto` decides from the border and says so). `--index N` takes
 * test image N instead.
 *
 * @module
 */
import { choiceFlag, helpText, numberFlag, parseFlags, runCli, UsageError } from "./_args.ts";
import { CHECKPOINT_FLAGS, modelFromCheckpoint } from "./_checkpoint.ts";
import { decodeImage } from "./_decode.ts";
import { readRegularFile } from "../deno/files.ts";
import { toFashionInput } from "../data/images.ts";
import { evaluate, FASHION_MNIST, loadFashionMnist, splitFromArrays } from "../mod.ts";

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
}

await runCli(main, "Run `deno task predict --help` for the options.");
