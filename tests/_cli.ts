// Runs a command-line entry point as a user runs it: a subprocess of this Deno.
const PERMS = ["--allow-read", "--allow-write", "--allow-env", "--allow-net"];

/** What a run printed and how it ended. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `script` with `args` to the end; `env` is added to (or, with `clearEnv`, replaces) this one's. */
export async function run(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  clearEnv = false,
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, script, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
    clearEnv,
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** Starts `script` with piped output, for tests that signal it. */
export function spawn(script: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, script, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}
