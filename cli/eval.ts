/**
 * `deno task eval --checkpoint FILE`: test loss and accuracy of a safetensors checkpoint — this
 * project's, or a `state_dict` exported from PyTorch with the reference `nn.Sequential`'s names
 * (the architecture then comes from the flags; this project's files carry it in their metadata).
 *
 * @module
 */
import { choiceFlag, helpText, numberFlag, parseFlags, runCli, UsageError } from "./_args.ts";
import {
  checkpointMetadata,
  DEFAULTS,
  describeGpu,
  evaluate,
  lenet5,
  loadCheckpoint,
  loadFashionMnist,
  Model,
  requestGpu,
} from "../mod.ts";
import { readRegularFile, writeAtomic } from "../deno/files.ts";

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
    help: "activation",
    default: "from the file, else sigmoid",
  },
  pool: { type: "string", value: "avg|max", help: "pooling", default: "from the file, else avg" },
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
  json: { type: "boolean", help: "print one JSON object with test_accuracy and test_loss" },
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
  const bytes = await readRegularFile(file);
  const meta = checkpointMetadata(bytes, file);
  const activation = choiceFlag(
    "activation",
    flags.activation,
    ["sigmoid", "relu"] as const,
    meta.activation === "relu" ? "relu" : "sigmoid",
  );
  const pool = choiceFlag(
    "pool",
    flags.pool,
    ["avg", "max"] as const,
    meta.pool === "max" ? "max" : "avg",
  );
  const data = await loadFashionMnist({ dataDir: flags["data-dir"] as string | undefined });
  const gpu = await requestGpu();
  // A checkpoint trained on resized images says so; PyTorch's state_dicts are 28×28.
  const size = Number(meta.input_size ?? DEFAULTS.inputSize);
  const model = new Model(gpu, lenet5({ activation, pool, inputSize: size }));
  loadCheckpoint(model, bytes, file);
  const predictions = typeof flags.predictions === "string" ? flags.predictions : undefined;
  const result = await evaluate(model, data.test, { batchSize, predictions: !!predictions });
  if (predictions && result.predictions) {
    const { classes, logits } = result.predictions;
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
  if (flags.json) {
    console.log(
      JSON.stringify({
        test_accuracy: result.accuracy,
        test_loss: result.loss,
        count: result.count,
        activation,
        pool,
      }),
    );
  } else {
    console.log(`adapter: ${describeGpu(gpu)}`);
    console.log(`${file} (${activation}, ${pool} pooling) on ${result.count} test images:`);
    console.log(
      `test loss ${result.loss.toFixed(4)}, test accuracy ${result.accuracy.toFixed(4)} (${
        result.seconds.toFixed(1)
      } s)`,
    );
  }
}

await runCli(main, "Run `deno task eval --help` for the options.");
