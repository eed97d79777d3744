/**
 * `deno task summary`: LeNet-5's layer table as torchinfo prints it (layer, output shape,
 * parameters), the totals, parameter memory and forward multiply-adds per image. No device needed.
 *
 * @module
 */
import { choiceFlag, helpText, numberFlag, parseFlags, runCli } from "./_args.ts";
import { DEFAULTS, lenet5, summary } from "../mod.ts";

const FLAGS = {
  activation: {
    type: "string",
    default: DEFAULTS.activation,
    value: "sigmoid|relu",
    help: "activation",
  },
  pool: { type: "string", default: DEFAULTS.pool, value: "avg|max", help: "pooling" },
  resize: {
    type: "string",
    default: String(DEFAULTS.inputSize),
    value: "N",
    help: "side of the square input images",
  },
  json: { type: "boolean", help: "print the summary as one JSON object" },
  help: { type: "boolean", help: "show this help" },
} as const;

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText("Usage: deno task summary [options]", FLAGS));
    return;
  }
  const net = lenet5({
    activation: choiceFlag(
      "activation",
      flags.activation,
      ["sigmoid", "relu"] as const,
      DEFAULTS.activation,
    ),
    pool: choiceFlag("pool", flags.pool, ["avg", "max"] as const, DEFAULTS.pool),
    inputSize: numberFlag("resize", flags.resize, DEFAULTS.inputSize, {
      integer: true,
      min: 12,
      max: 4096,
    }),
  });
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
