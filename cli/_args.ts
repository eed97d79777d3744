// The one place the CLI parses arguments (node:util's parseArgs; JSR's @std/cli is not reachable).
import { ACTIVATION_KINDS, type ActivationKind } from "../kernels/activation.ts";
import { POOL_KINDS, type PoolKind } from "../kernels/pool.ts";
import { parseArgs } from "node:util";
import { DEFAULTS } from "../lib/defaults.ts";
import { largestLenetInput, lenetParameters } from "../lib/nn/lenet.ts";

/** A usage error: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Exit codes after a signal: 128 + its number, as shells report. */
export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** One flag: its kind, default and help text. */
export interface FlagSpec {
  type: "string" | "boolean";
  default?: string;
  help: string;
  /** For documentation: what a value looks like. */
  value?: string;
}

/**
 * Parses `args` against `flags`; unknown flags are usage errors, and so are positionals unless a
 * `positionals` array is given to receive them. A value that
 * starts with a dash (`--epochs -1`) is taken as the value, so that its check can say what is
 * wrong with it.
 */
export function parseFlags(
  args: string[],
  flags: Record<string, FlagSpec>,
  positionals?: string[],
): Record<string, string | boolean | undefined> {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--") ? args[i].slice(2) : "";
    const next = args[i + 1];
    if (flags[name]?.type === "string" && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`--${name}=${next}`);
      i++;
    } else {
      joined.push(args[i]);
    }
  }
  try {
    const parsed = parseArgs({
      args: joined,
      options: Object.fromEntries(
        Object.entries(flags).map((
          [name, f],
        ) => [name, name === "help" ? { type: f.type, short: "h" } : { type: f.type }]),
      ),
      strict: true,
      allowPositionals: positionals !== undefined,
    });
    positionals?.push(...parsed.positionals);
    return parsed.values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError(
      (e instanceof Error ? e.message : String(e)).split("\n")[0].replace(/\. To specify.*$/, ""),
    );
  }
}

/** The help text: usage line, then each flag with its default. */
export function helpText(usage: string, flags: Record<string, FlagSpec>): string {
  const rows = Object.entries(flags).map(([name, f]) => {
    const left = `  --${name}${f.type === "string" ? ` ${f.value ?? "VALUE"}` : ""}`;
    const def = f.default !== undefined ? ` (default: ${f.default})` : "";
    return `${left.padEnd(30)} ${f.help}${def}`;
  });
  return `${usage}\n\nOptions:\n${rows.join("\n")}\n`;
}

/** A number flag: finite, and within the given checks. */
export function numberFlag(
  name: string,
  raw: string | boolean | undefined,
  fallback: number,
  check: { integer?: boolean; min?: number; exclusiveMin?: number; max?: number } = {},
): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const kind = check.integer ? "an integer" : "a number";
  const low = check.exclusiveMin !== undefined
    ? ` greater than ${check.exclusiveMin}`
    : check.min !== undefined
    ? ` of at least ${check.min}`
    : "";
  const bound = check.max !== undefined ? `${low}${low ? " and" : ""} at most ${check.max}` : low;
  const bad = typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v) ||
    (check.integer && !Number.isInteger(v)) || (check.min !== undefined && v < check.min) ||
    (check.exclusiveMin !== undefined && v <= check.exclusiveMin) ||
    (check.max !== undefined && v > check.max);
  if (bad) throw new UsageError(`--${name} expects ${kind}${bound}, got "${raw}"`);
  return v;
}

/** A choice flag. */
export function choiceFlag<T extends string>(
  name: string,
  raw: string | boolean | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback;
  if (typeof raw !== "string" || !choices.includes(raw as T)) {
    throw new UsageError(`--${name} expects one of ${choices.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

/**
 * Runs `main`, turning errors into one line on stderr and an exit code (2: usage, 1: other), and
 * running `cleanups` (lock files) on every way out. A compile error keeps its full text (the
 * compiler's messages and the source); anything else is its first line, without a stack trace.
 */
export async function runCli(main: () => Promise<void>, usageHint: string): Promise<void> {
  try {
    await main();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof UsageError) {
      console.error(`error: ${message}\n${usageHint}`);
      exit(2);
    }
    const firstLine = message.split("\n")[0];
    console.error(
      `error: ${e instanceof Error && e.name === "KernelCompileError" ? message : firstLine}`,
    );
    exit(1);
  }
  exit(0);
}

const cleanups: (() => void)[] = [];

/** Registers a synchronous cleanup (removing a lock file) for every exit of {@linkcode exit}. */
export function atExit(cleanup: () => void): void {
  cleanups.push(cleanup);
}

/** Runs the cleanups, then exits with `code`. */
export function exit(code: number): never {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      cleanup();
    } catch { /* already gone */ }
  }
  Deno.exit(code);
}

/** The flags that choose LeNet-5's variant, shared by train and summary. */
export const ARCHITECTURE_FLAGS = {
  activation: {
    type: "string",
    default: DEFAULTS.activation,
    value: ACTIVATION_KINDS.join("|"),
    help: "activation",
  },
  pool: { type: "string", default: DEFAULTS.pool, value: POOL_KINDS.join("|"), help: "pooling" },
  resize: {
    type: "string",
    value: "N",
    help: "resize images to N×N on the device (bilinear), like the reference's resize",
    default: `${DEFAULTS.inputSize}, as stored`,
  },
} as const;

/** The architecture the {@linkcode ARCHITECTURE_FLAGS} ask for (defaults: the reference's). */
export function architectureFlags(flags: Record<string, string | boolean | undefined>): {
  activation: ActivationKind;
  pool: PoolKind;
  resize: number;
} {
  return {
    activation: choiceFlag(
      "activation",
      flags.activation,
      ACTIVATION_KINDS,
      DEFAULTS.activation,
    ),
    pool: choiceFlag("pool", flags.pool, POOL_KINDS, DEFAULTS.pool),
    resize: resizeFlag(flags.resize),
  };
}

/** `--resize N`: an input size LeNet-5 can be built for, checked in arithmetic (no allocation). */
function resizeFlag(raw: string | boolean | undefined): number {
  const max = largestLenetInput();
  const side = numberFlag("resize", raw, DEFAULTS.inputSize, { integer: true, min: 12 });
  if (side > max) {
    const mib = (4 * lenetParameters(side) / 2 ** 20).toFixed(0);
    throw new UsageError(
      `--resize ${side} needs ${mib} MiB of parameters, more than one buffer holds: --resize ${max} or less fits`,
    );
  }
  return side;
}
