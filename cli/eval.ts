/**
 * `deno task eval --checkpoint FILE`: test loss and accuracy of a safetensors checkpoint — this
 * project's, or a `state_dict` exported from PyTorch with the reference `nn.Sequential`'s names
 * (the architecture then comes from the flags; this project's files carry it in their metadata).
 *
 * @module
 */
import { helpText, numberFlag, parseFlags, runCli, UsageError } from "./_args.ts";
import { CHECKPOINT_FLAGS, modelFromCheckpoint } from "./_checkpoint.ts";
import { confusionMatrixSvg, DEFAULTS, describeGpu, evaluate, loadFashionMnist } from "../mod.ts";
import { writeAllTo, writeAtomic } from "../deno/files.ts";
import { outputFolder, outputPath } from "./_run_dir.ts";

const FLAGS = {
  ...CHECKPOINT_FLAGS,
  "data-dir": {
    type: "string",
    value: "DIR",
    help: "folder with the four Fashion-MNIST .gz files",
    default: "searched",
  },
  "batch-size": {
    type: "string",
    default: String(DEFAULTS.evalBatchSize),
    value: "N",
    help: "images per batch",
  },
  predictions: {
    type: "string",
    value: "FILE",
    help: "also write a CSV of every test image: index, label, predicted class, the logits",
  },
  json: {
    type: "boolean",
    help: "print one JSON object: test_accuracy, test_loss, per_class_accuracy, confusion_matrix",
  },
  out: {
    type: "string",
    value: "DIR",
    help: "also write DIR/confusion.svg (a heatmap) and DIR/evaluation.json",
  },
  help: { type: "boolean", help: "show this help" },
} as const;

const USAGE = "Usage: deno task eval --checkpoint FILE [options]";

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText(USAGE, FLAGS));
    return;
  }
  const file = flags.checkpoint;
  if (typeof file !== "string" || !file) throw new UsageError("--checkpoint FILE is required");
  const batchSize = numberFlag("batch-size", flags["batch-size"], DEFAULTS.evalBatchSize, {
    integer: true,
    min: 1,
  });
  const inputs = [file];
  const predictions = typeof flags.predictions === "string"
    ? await outputPath("--predictions", flags.predictions, { inputs, stdout: true })
    : undefined;
  if (predictions === "-" && flags.json) {
    throw new UsageError("--predictions - and --json both write to standard output: choose one");
  }
  // With the CSV on standard output, the report goes to standard error.
  const say = predictions === "-" ? console.error : console.log;
  const out = typeof flags.out === "string" && flags.out ? flags.out : undefined;
  if (out) {
    await outputFolder("--out", out);
    for (const name of ["confusion.svg", "evaluation.json"]) {
      await outputPath("--out", `${out}/${name}`, { inputs });
    }
  }
  const { gpu, model, activation, pool, name } = await modelFromCheckpoint(flags);
  const data = await loadFashionMnist({
    dataDir: flags["data-dir"] as string | undefined,
    splits: ["test"],
  });
  const fits = model.maxBatchSize("eval");
  if (batchSize > fits) {
    throw new UsageError(
      `--batch-size ${batchSize} needs buffers larger than this adapter allows: ${fits} or less fits`,
    );
  }
  const result = await evaluate(model, data.test, { batchSize, predictions: true });
  if (predictions) {
    const { classes, logits } = result.predictions!;
    const k = model.classes;
    const rows = [
      `index,label,predicted,${Array.from({ length: k }, (_, c) => `logit_${c}`).join(",")}`,
    ];
    for (let n = 0; n < result.count; n++) {
      const row = Array.from(logits.subarray(n * k, (n + 1) * k), (v) => v.toPrecision(9));
      rows.push(`${n},${data.test.labels[n]},${classes[n]},${row.join(",")}`);
    }
    const csv = rows.join("\n") + "\n";
    if (predictions === "-") await writeAllTo(Deno.stdout, new TextEncoder().encode(csv));
    else await writeAtomic(predictions, csv);
  }
  const matrix = result.confusionMatrix!, perClass = result.perClassAccuracy!;
  const report = {
    checkpoint: file,
    test_accuracy: result.accuracy,
    test_loss: result.loss,
    count: result.count,
    network: name,
    activation,
    pool,
    class_names: data.classNames,
    per_class_accuracy: perClass,
    confusion_matrix: matrix,
  };
  if (out) {
    await writeAtomic(`${out}/confusion.svg`, confusionMatrixSvg(matrix, data.classNames));
    await writeAtomic(`${out}/evaluation.json`, JSON.stringify(report, null, 2) + "\n");
  }
  if (flags.json) {
    console.log(JSON.stringify(report));
    return;
  }
  say(`adapter: ${describeGpu(gpu)}`);
  say(`${file} (${name}) on ${result.count} test images:`);
  say(
    `test loss ${result.loss.toFixed(4)}, test accuracy ${result.accuracy.toFixed(4)} (${
      result.seconds.toFixed(1)
    } s)\n`,
  );
  say(formatReport(matrix, perClass, data.classNames));
  if (out) say(`\nwrote ${out}/confusion.svg and ${out}/evaluation.json`);
}

/** Per-class accuracy, then the confusion matrix with short column names (rows: true class). */
function formatReport(
  matrix: readonly number[][],
  perClass: readonly number[],
  names: readonly string[],
): string {
  const width = Math.max(...names.map((n) => n.length));
  const lines = ["accuracy per class:"];
  names.forEach((name, k) => {
    const total = matrix[k].reduce((a, b) => a + b, 0);
    lines.push(
      `  ${name.padEnd(width)}  ${(100 * perClass[k]).toFixed(1).padStart(5)}%  (${
        matrix[k][k]
      }/${total})`,
    );
  });
  const cell = Math.max(5, ...matrix.flat().map((v) => String(v).length + 1));
  const short = names.map((_, k) => String(k));
  lines.push("", "confusion matrix (rows: true class, columns: predicted class):");
  lines.push(`  ${"".padEnd(width + 4)}${short.map((s) => s.padStart(cell)).join("")}`);
  matrix.forEach((row, k) => {
    lines.push(
      `  ${`${k} ${names[k]}`.padEnd(width + 4)}${
        row.map((v) => String(v).padStart(cell)).join("")
      }`,
    );
  });
  return lines.join("\n");
}

await runCli(main, "Run `deno task eval --help` for the options.");
