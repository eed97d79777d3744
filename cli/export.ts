/**
 * `deno task export --checkpoint FILE --out model.onnx`: the checkpoint's network as an ONNX
 * file (see `lib/io/onnx.ts`: input `input` [N, 1, S, S] of pixels / 255, output `logits`), for
 * onnxruntime and the tools that read ONNX.
 *
 * @module
 */
import { helpText, parseFlags, runCli, UsageError } from "./_args.ts";
import { CHECKPOINT_FLAGS, modelFromCheckpoint } from "./_checkpoint.ts";
import { exportOnnx, FASHION_MNIST } from "../mod.ts";
import { writeAllTo, writeAtomic } from "../deno/files.ts";
import { outputPath } from "./_run_dir.ts";

const FLAGS = {
  ...CHECKPOINT_FLAGS,
  out: { type: "string", value: "FILE", help: "the ONNX file to write (required)" },
  help: { type: "boolean", help: "show this help" },
} as const;

const USAGE = "Usage: deno task export --checkpoint FILE --out model.onnx [options]";

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText(USAGE, FLAGS));
    return;
  }
  const out = flags.out;
  if (typeof out !== "string" || !out) throw new UsageError("--out FILE is required");
  const checkpoint = flags.checkpoint;
  const target = await outputPath("--out", out, {
    inputs: typeof checkpoint === "string" ? [checkpoint] : [],
    stdout: true,
  });
  // The graph needs the architecture: a file that does not say it takes it from the flags.
  const { file, model, name } = await modelFromCheckpoint(flags, {
    requireArchitecture: true,
  });
  const bytes = await exportOnnx(model, {
    metadata: {
      class_names: JSON.stringify(FASHION_MNIST.classNames),
      checkpoint: file.split("/").at(-1)!,
    },
  });
  if (target === "-") await writeAllTo(Deno.stdout, bytes);
  else await writeAtomic(out, bytes);
  model.dispose();
  // With the graph on standard output, the report goes to standard error.
  (target === "-" ? console.error : console.log)(
    `${out}: ${name} as ONNX opset 13, input [N, ${
      model.inputShape.join(", ")
    }] of pixels / 255, output logits [N, ${model.classes}], ${bytes.length} bytes`,
  );
}

await runCli(main, "Run `deno task export --help` for the options.");
