/**
 * Learning-rate schedules per step, as `torch.optim.lr_scheduler` computes them (stepped once per
 * batch): a constant rate; `cosine`, `CosineAnnealingLR(T_max = steps − warm-up, eta_min)` after
 * an optional `LinearLR(start_factor, total_iters = warm-up)` (PyTorch's `SequentialLR` of the
 * two); `onecycle`, `OneCycleLR(max_lr = lr, total_steps, pct_start, div_factor,
 * final_div_factor)` with cosine annealing and no momentum cycling. The rate of step t follows
 * from t alone, so a resumed run continues the schedule exactly.
 *
 * @module
 */

/** A schedule of the learning rate over a run's steps. */
export type LrSchedule =
  | { kind: "constant" }
  | {
    kind: "cosine";
    /** Steps of linear warm-up first (`LinearLR`), default 0. */
    warmupSteps?: number;
    /** The warm-up's first factor of the rate (`start_factor`), default 0.1. */
    warmupStart?: number;
    /** The rate it anneals to (`eta_min`), default 0. */
    minLr?: number;
  }
  | {
    kind: "onecycle";
    /** Fraction of the steps spent rising (`pct_start`), default 0.3. */
    pctStart?: number;
    /** The first rate is lr / divFactor (`div_factor`), default 25. */
    divFactor?: number;
    /** The last rate is the first / finalDivFactor (`final_div_factor`), default 1e4. */
    finalDivFactor?: number;
  };

/** The schedules' names, as `--schedule` takes them. */
export const SCHEDULES = ["constant", "cosine", "onecycle"] as const;

/** PyTorch's cosine annealing from `start` to `end` at `pct` ∈ [0, 1]. */
function cosineAnneal(start: number, end: number, pct: number): number {
  return end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1);
}

/**
 * Throws unless `schedule` has rates a run can use: counts and fractions in range, every rate
 * finite and non-negative (as PyTorch's schedulers require).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSchedule } from "./schedule.ts";
 * checkSchedule({ kind: "cosine", warmupSteps: 100 }, 1e-3, 2350);
 * assert.throws(() => checkSchedule({ kind: "cosine", minLr: NaN }, 1e-3, 10), /minLr/);
 * ```
 */
export function checkSchedule(schedule: LrSchedule, lr: number, totalSteps: number): void {
  const bad = (what: string) => {
    throw new RangeError(`schedule ${schedule.kind}: ${what}`);
  };
  if (!SCHEDULES.includes(schedule.kind)) bad(`unknown; expected one of ${SCHEDULES.join(", ")}`);
  if (!(Number.isFinite(lr) && lr >= 0)) bad(`the rate must be finite and at least 0, got ${lr}`);
  if (schedule.kind === "cosine") {
    const { warmupSteps = 0, warmupStart = 0.1, minLr = 0 } = schedule;
    if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0 && warmupSteps < totalSteps)) {
      bad(
        `warmupSteps must be a whole number below the run's ${totalSteps} steps, got ${warmupSteps}`,
      );
    }
    if (!(warmupStart > 0 && warmupStart <= 1)) {
      bad(`warmupStart must be in (0, 1], got ${warmupStart}`);
    }
    if (!(Number.isFinite(minLr) && minLr >= 0 && minLr <= lr)) {
      bad(`minLr must be from 0 to the rate ${lr}, got ${minLr}`);
    }
  } else if (schedule.kind === "onecycle") {
    const { pctStart = 0.3, divFactor = 25, finalDivFactor = 1e4 } = schedule;
    if (!(pctStart > 0 && pctStart < 1)) bad(`pctStart must be in (0, 1), got ${pctStart}`);
    if (!(divFactor >= 1 && Number.isFinite(divFactor))) {
      bad(`divFactor must be at least 1, got ${divFactor}`);
    }
    if (!(finalDivFactor >= 1 && Number.isFinite(finalDivFactor))) {
      bad(`finalDivFactor must be at least 1, got ${finalDivFactor}`);
    }
    if (pctStart * totalSteps - 1 <= 0) bad(`a run of ${totalSteps} steps is too short to rise`);
  }
}

/**
 * The learning rate of step `step` (0-based: the rate the optimiser uses for its step + 1) of a
 * run of `totalSteps`, from the base rate `lr`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scheduledLr } from "./schedule.ts";
 * const cosine = { kind: "cosine", warmupSteps: 8 } as const;
 * assert.equal(scheduledLr(cosine, 0.01, 0, 40), 0.001); // warm-up from 0.1 × lr
 * assert.equal(scheduledLr(cosine, 0.01, 8, 40), 0.01); // then anneal from lr
 * const first = scheduledLr({ kind: "onecycle" }, 0.01, 0, 40);
 * assert.ok(Math.abs(first - 0.0004) < 1e-15); // lr / 25
 * ```
 */
export function scheduledLr(
  schedule: LrSchedule,
  lr: number,
  step: number,
  totalSteps: number,
): number {
  if (schedule.kind === "constant") return lr;
  if (schedule.kind === "cosine") {
    const { warmupSteps = 0, warmupStart = 0.1, minLr = 0 } = schedule;
    if (step < warmupSteps) return lr * (warmupStart + (1 - warmupStart) * step / warmupSteps);
    return cosineAnneal(lr, minLr, (step - warmupSteps) / (totalSteps - warmupSteps));
  }
  const { pctStart = 0.3, divFactor = 25, finalDivFactor = 1e4 } = schedule;
  const initial = lr / divFactor, final = initial / finalDivFactor;
  const peak = pctStart * totalSteps - 1, end = totalSteps - 1;
  return step <= peak
    ? cosineAnneal(initial, lr, step / peak)
    : cosineAnneal(lr, final, (step - peak) / (end - peak));
}
