/**
 * `deno task summary`: a network's layer table as torchinfo prints it (layer, output shape,
 * parameters), the totals, parameter memory and forward multiply-adds per image: LeNet-5's as the
 * flags choose it, or the network a checkpoint describes (`--checkpoint`). No device needed.
 *
 * @module
 */
import {
  ARCHITECTURE_FLAGS,
  architectureFlags,
  helpText,
  parseFlags,
  runCli,
  UsageError,
} from "./_args.ts";
import { buildNetwork, DataError, lenet5, type Sequential, summary } from "../mod.ts";
import { checkpointArchitecture, checkpointMetadata } from "../engine.ts";
import { readRegularFile } from "../deno/files.ts";

const FLAGS = {
  ...ARCHITECTURE_FLAGS,
  checkpoint: {
    type: "string",
    value: "FILE",
    help: "summarise the network this checkpoint describes instead (its metadata; no weights read)",
  },
  json: { type: "boolean", help: "print the summary as one JSON object" },
  help: { type: "boolean", help: "show this help" },
} as const;

/** The network of `--checkpoint`: the one its metadata describes, else LeNet-5 as it says. */
async function checkpointNetwork(
  file: string,
  flags: Record<string, string | boolean | undefined>,
): Promise<Sequential> {
  const given = (["activation", "pool", "resize"] as const).filter((k) => flags[k] !== undefined);
  if (given.length) {
    throw new UsageError(
      `--${given[0]} and --checkpoint: the checkpoint says its network; give one or the other`,
    );
  }
  const saved = checkpointArchitecture(checkpointMetadata(await readRegularFile(file), file), file);
  if (saved.network) return buildNetwork(saved.network);
  if (saved.activation === undefined && saved.pool === undefined) {
    throw new DataError(file, "its metadata does not say its network (a PyTorch state_dict?)");
  }
  return lenet5({ activation: saved.activation, pool: saved.pool, inputSize: saved.inputSize });
}

async function main() {
  const flags = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(helpText("Usage: deno task summary [options]", FLAGS));
    return;
  }
  let net: Sequential;
  if (typeof flags.checkpoint === "string" && flags.checkpoint) {
    net = await checkpointNetwork(flags.checkpoint, flags);
  } else {
    const { activation, pool, resize } = architectureFlags(flags);
    net = lenet5({ activation, pool, inputSize: resize });
  }
  const s = summary(net);
  if (flags.json) {
    const { text: _text, ...data } = s;
    console.log(JSON.stringify(data));
  } else {
    console.log(String(net));
    console.log(s.text);
  }
}

await runCli(main, "Run `deno task summary --help` for the options.");
