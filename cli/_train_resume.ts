// `deno task train --resume DIR`: the run's saved state, its settings checked as flags are.
import { UsageError } from "./_args.ts";
import { DataError } from "../mod.ts";
import { decodeTrainingState, type TrainingState } from "../engine.ts";
import { readRegularFile, sameFile } from "../deno/files.ts";
import { RUN_SETTINGS, type RunConfig, runConfig } from "./_train_config.ts";
import { STATE_FILE } from "./_train_files.ts";

/**
 * The state of the run in `--resume DIR`, its settings checked as flags are and applied to
 * `config`; flags may only repeat them.
 */
export async function resumedState(
  flags: Record<string, string | boolean | undefined>,
  config: RunConfig,
): Promise<{ dir: string; state: TrainingState } | undefined> {
  const dir = typeof flags.resume === "string" && flags.resume ? flags.resume : undefined;
  if (!dir) return undefined;
  if (typeof flags.out === "string" && !await sameFile(flags.out, dir)) {
    throw new UsageError(`--resume ${dir} continues the run in that folder: drop --out`);
  }
  const path = `${dir}/${STATE_FILE}`;
  const state = decodeTrainingState(await readRegularFile(path), path);
  const settings = savedSettings(state, path);
  const key = (k: string) => k as keyof typeof RUN_SETTINGS;
  const changed = Object.entries(RUN_SETTINGS)
    .filter(([k, flag]) => flags[flag] !== undefined && config[key(k)] !== settings[key(k)])
    .map(([k, flag]) => `--${flag} ${config[key(k)]} (the run has ${settings[key(k)]})`);
  if (changed.length) {
    throw new UsageError(
      `--resume ${dir}: ${changed.join(", ")} would change the run; resume keeps its settings`,
    );
  }
  // A schedule spans the run's steps: its length is part of the run.
  const spans = (state.settings as Record<string, unknown>).epochs;
  if (settings.schedule !== "constant" && spans !== undefined && flags.epochs !== undefined) {
    if (Number(flags.epochs) !== spans) {
      throw new UsageError(
        `--resume ${dir}: --epochs ${flags.epochs} would stretch the run's ${settings.schedule} schedule over other steps (it spans ${spans} epochs)`,
      );
    }
  }
  Object.assign(config, settings);
  if (settings.schedule !== "constant" && typeof spans === "number") config.epochs = spans;
  const done = state.progress.epoch;
  if (config.epochs <= done) {
    throw new UsageError(
      `--resume ${dir}: the run has ${done} epoch${
        done === 1 ? "" : "s"
      } done, and --epochs (${config.epochs}) is the total: ask for more`,
    );
  }
  return { dir, state };
}

/** A state's run settings, validated by {@linkcode runConfig} as if they were flags. */
function savedSettings(
  state: TrainingState,
  path: string,
): Pick<RunConfig, keyof typeof RUN_SETTINGS> {
  const asFlags: Record<string, string> = {};
  for (const [key, flag] of Object.entries(RUN_SETTINGS)) {
    const v = (state.settings as Record<string, unknown>)[key];
    if (v === undefined || v === null) continue; // subset: saved as null (JSON has no Infinity)
    if (typeof v !== "string" && typeof v !== "number") {
      throw new DataError(path, `setting ${key} is ${JSON.stringify(v)}, not a value`);
    }
    asFlags[flag] = String(v);
  }
  try {
    const checked = runConfig(asFlags);
    return Object.fromEntries(
      Object.keys(RUN_SETTINGS).map((k) => [k, checked[k as keyof typeof RUN_SETTINGS]]),
    ) as Pick<RunConfig, keyof typeof RUN_SETTINGS>;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    throw new DataError(path, `a saved setting is not valid: ${e.message.replace(/^--/, "")}`);
  }
}
