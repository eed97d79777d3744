/**
 * `deno task eval --checkpoint FILE`: test loss and accuracy of a safetensors checkpoint — this
 * project's, or a `state_dict` exported from PyTorch with the reference `nn.Sequential`'s names
 * (the architecture then comes from the flags; this project's files carry it in their metadata).
 *
 * @module
 */
import { choiceFlag, helpText, numberFlag, parseFlags, runCli, UsageError } from "./_args.ts";
import { commandGpu } from "./_gpu.ts";
import {
  checkpointArchitecture,
  checkpointMetadata,
  confusionMatrixSvg,
  DEFAULTS,
  describeGpu,
  evaluate,
  lenet5,
  loadCheckpoint,
  loadFashionMnist,
  Model,
} from "../mod.ts";
import { errorText, readRegularFile, sameFile, writeAtomic } from "../deno/files.ts";

const FLAGS = {
  checkpoint: { type: "string", value: "FILE", help: "safetensors file to evaluate (required)" },
  "data-dir": {
    type: "string",
    value: "DIR",
    help: "folder with the four Fashion-MNIST .gz files",
    default: "searched",
  },
  activation: {
    type: "string",
    value: "sigmoid|relu",
    help: "activation; required when the file does not say (a PyTorch state_dict)",
    default: "from the file",
  },
  pool: {
    type: "string",
    value: "avg|max",
    help: "pooling; required when the file does not say",
    default: "from the file",
  },
  "allow-nonfinite": { type: "boolean", help: "evaluate weights that hold NaN or infinity" },
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
  const predictions = typeof flags.predictions === "string" ? flags.predictions : undefined;
  if (predictions !== undefined && await sameFile(predictions, file)) {
    throw new UsageError(
      `--predictions ${predictions} is the checkpoint itself: choose another file`,
    );
  }
  const out = typeof flags.out === "string" && flags.out ? flags.out : undefined;
  if (out) {
    try {
      await Deno.mkdir(out, { recursive: true });
    } catch (e) {
      throw new UsageError(`--out ${out}: cannot create the folder (${errorText(e)})`);
    }
  }
  const bytes = await readRegularFile(file);
  // The architecture: the file's metadata, or the flags when it has none; both must agree.
  const saved = checkpointArchitecture(checkpointMetadata(bytes, file), file);
  const architecture = (key: "activation" | "pool", choices: readonly string[]) => {
    const flag = flags[key] === undefined ? undefined : choiceFlag(key, flags[key], choices, "");
    const value = saved[key];
    if (flag && value && flag !== value) {
      throw new UsageError(
        `--${key} ${flag} disagrees with ${file}, which was saved with ${key} ${value}`,
      );
    }
    const chosen = flag ?? value;
    if (!chosen) {
      throw new UsageError(
        `${file} does not say its ${key} (a PyTorch state_dict?): pass --${key} ${
          choices.join("|")
        }`,
      );
    }
    return chosen;
  };
  const activation = architecture("activation", ["sigmoid", "relu"]) as "sigmoid" | "relu";
  const pool = architecture("pool", ["avg", "max"]) as "avg" | "max";
  const data = await loadFashionMnist({
    dataDir: flags["data-dir"] as string | undefined,
    splits: ["test"],
  });
  const gpu = await commandGpu();
  // A checkpoint trained on resized images says so; PyTorch's state_dicts are 28×28.
  const model = new Model(
    gpu,
    lenet5({ activation, pool, inputSize: saved.inputSize ?? DEFAULTS.inputSize }),
  );
  loadCheckpoint(model, bytes, file, { allowNonFinite: flags["allow-nonfinite"] === true });
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
    await writeAtomic(predictions, rows.join("\n") + "\n");
  }
  const matrix = result.confusionMatrix!, perClass = result.perClassAccuracy!;
  const report = {
    checkpoint: file,
    test_accuracy: result.accuracy,
    test_loss: result.loss,
    count: result.count,
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
  console.log(`adapter: ${describeGpu(gpu)}`);
  console.log(`${file} (${activation}, ${pool} pooling) on ${result.count} test images:`);
  console.log(
    `test loss ${result.loss.toFixed(4)}, test accuracy ${result.accuracy.toFixed(4)} (${
      result.seconds.toFixed(1)
    } s)\n`,
  );
  console.log(formatReport(matrix, perClass, data.classNames));
  if (out) console.log(`\nwrote ${out}/confusion.svg and ${out}/evaluation.json`);
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
  const short = names.map((n, k) => `${k}`);
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
