/**
 * `deno task summary`: LeNet-5's layer table as torchinfo prints it (layer, output shape,
 * parameters), the totals, parameter memory and forward multiply-adds per image. No device needed.
 *
 * @module
 */
import { ARCHITECTURE_FLAGS, architectureFlags, helpText, parseFlags, runCli } from "./_args.ts";
import { lenet5, summary } from "../mod.ts";

const FLAGS = {
  ...ARCHITECTURE_FLAGS,
  json: { type: "boolean", help: "print the summary as one JSON object" },
  help: { type: "boolean", help: "show this help" },
} as const;

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText("Usage: deno task summary [options]", FLAGS));
    return;
  }
  const { activation, pool, resize } = architectureFlags(flags);
  const net = lenet5({ activation, pool, inputSize: resize });
  const s = summary(net);
  if (flags.json) {
    const { text: _text, ...data } = s;
    console.log(JSON.stringify(data));
  } else {
    console.log(String(net));
    console.log(s.text);
  }
  await Promise.resolve();
}

await runCli(main, "Run `deno task summary --help` for the options.");
