// `--tune off|cached|full` for train and bench: the rules, the picks stored for this adapter, or
// every candidate timed now and the fastest stored (deno/tuning_store.ts).
import { DEFAULTS, type Model, tune, type TuneLevel } from "../mod.ts";
import { type Mode, type OpTiming, TUNE_LEVELS } from "../engine.ts";
import { fileTuningStore } from "../deno/tuning_store.ts";
import { timingClock } from "../engine.ts";
import { choiceFlag } from "./_args.ts";

/** The flag, for a command's flag table. */
export const TUNE_FLAG = {
  tune: {
    type: "string",
    default: DEFAULTS.tune,
    value: "off|cached|full",
    help:
      "kernel variants: the built-in rules (off), the picks stored for this adapter (cached), or time every candidate now and store the fastest (full)",
  },
} as const;

/** The level the flag asks for. */
export function tuneLevel(raw: string | boolean | undefined): TuneLevel {
  return choiceFlag("tune", raw, TUNE_LEVELS, DEFAULTS.tune);
}

/** Tunes `model` for `plans`, saying in one line what was used; returns the timings (full). */
export async function tuneForCommand(
  model: Model,
  level: TuneLevel,
  plans: { batch: number; mode: Mode }[],
  say: (line: string) => void,
): Promise<OpTiming[]> {
  const t0 = performance.now();
  if (level === "full") {
    say(
      `tuning: timing every kernel variant on this adapter (${timingClock(model.gpu.device)})...`,
    );
  }
  const result = await tune(model, level, { store: fileTuningStore(), plans });
  const picks = Object.keys(result.tuning.picks).length;
  const rules = `the ${result.tuning.defaults.toUpperCase()} rules`;
  say(
    level === "off"
      ? `tuning: off, ${rules}`
      : level === "cached"
      ? `tuning: ${
        picks
          ? `${picks} stored picks for this adapter, else ${rules}`
          : `none stored for this adapter, ${rules} (--tune full measures)`
      }`
      : `tuning: ${result.timings.length} ops timed in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s, the fastest stored`,
  );
  return result.timings;
}
