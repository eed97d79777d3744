/**
 * Autotuning, like cuDNN's benchmark mode: every op of a step plan that has candidate variants
 * (`lib/nn/choose.ts`) is timed on this adapter in each of them, and the fastest becomes the
 * model's pick. Picks are kept in a {@linkcode TuningStore} keyed by the adapter, so a second run
 * on the same adapter reuses them (`cached`) without timing anything.
 *
 * Candidates are timed inside whole plans built with them (so each sees the buffers and view
 * constants it would run with), one op at a time, by the device's timestamps where it has them
 * (else wall clock, `lib/gpu/timing.ts`), the best of three trials taken in turns across
 * candidates.
 *
 * @module
 */
import type { Gpu } from "../gpu/device.ts";
import { type Dispatch, KernelRunner } from "../gpu/kernel_runner.ts";
import { timeDispatches } from "../gpu/timing.ts";
import { rulesFor, type Tuning } from "../nn/choose.ts";
import { DEFAULTS } from "../defaults.ts";
import type { Model } from "./model.ts";
import { destroyPlan, type Mode, stepCalls, type StepPlan } from "./plan.ts";

/** How much tuning to do: none (the rules), reuse stored picks, or time every candidate. */
export type TuneLevel = "off" | "cached" | "full";

/** The tuning levels, for flags. */
export const TUNE_LEVELS: readonly TuneLevel[] = ["off", "cached", "full"];

/** One op's candidates and what each cost. */
export interface OpTiming {
  /** The op's tuning key (op and shape). */
  key: string;
  /** Op name, e.g. `conv2d.backward_input`. */
  op: string;
  /** The layer it was timed in. */
  layer: string;
  /** Milliseconds per run of each candidate, by variant name. */
  ms: Record<string, number>;
  /** The fastest. */
  fastest: string;
}

/** Where picks are kept between runs, per adapter. */
export interface TuningStore {
  /** The picks stored for an adapter (empty when none). */
  load(adapter: string): Promise<Record<string, string>>;
  /** Stores picks for an adapter (merged over what is there). */
  save(adapter: string, picks: Record<string, string>): Promise<void>;
}

/**
 * A store that lives as long as the page or process: the default in a browser.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryTuningStore } from "./tune.ts";
 * const store = memoryTuningStore();
 * await store.save("gpu", { "matmul 8x8x8": "storage tile 4x8" });
 * assert.deepEqual(await store.load("gpu"), { "matmul 8x8x8": "storage tile 4x8" });
 * assert.deepEqual(await store.load("other"), {});
 * ```
 */
export function memoryTuningStore(): TuningStore {
  const byAdapter = new Map<string, Record<string, string>>();
  return {
    load: (adapter) => Promise.resolve({ ...byAdapter.get(adapter) }),
    save: (adapter, picks) => {
      byAdapter.set(adapter, { ...byAdapter.get(adapter), ...picks });
      return Promise.resolve();
    },
  };
}

/**
 * A store in the browser's `localStorage` (one item per adapter, under `key`), so that a page
 * tunes once per browser and adapter; a memory store where there is no `localStorage`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { localStorageTuningStore } from "./tune.ts";
 * const store = localStorageTuningStore();
 * await store.save("adapter", { "matmul 8x8x8": "storage tile 4x8" });
 * assert.equal((await store.load("adapter"))["matmul 8x8x8"], "storage tile 4x8");
 * ```
 */
export function localStorageTuningStore(key = "lenet-webgpu tuning"): TuningStore {
  const storage = (globalThis as { localStorage?: Storage }).localStorage;
  if (!storage) return memoryTuningStore();
  const item = (adapter: string) => `${key} ${adapter}`;
  const read = (adapter: string): Record<string, string> => {
    try {
      const picks = JSON.parse(storage.getItem(item(adapter)) ?? "{}");
      return picks && typeof picks === "object" ? picks : {};
    } catch {
      return {}; // a damaged item is a cache miss
    }
  };
  return {
    load: (adapter) => Promise.resolve(read(adapter)),
    save: (adapter, picks) => {
      storage.setItem(item(adapter), JSON.stringify({ ...read(adapter), ...picks }));
      return Promise.resolve();
    },
  };
}

/**
 * The key picks are stored under: what the adapter says about itself, and a fingerprint of its
 * features and limits (lavapipe through Vulkan and llvmpipe through GL describe themselves the
 * same, but differ there).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestGpu } from "../gpu/device.ts";
 * import { adapterKey } from "./tune.ts";
 * assert.match(adapterKey(await requestGpu()), / \| (fallback|hardware) \| /);
 * ```
 */
export function adapterKey(gpu: Gpu): string {
  const { vendor, architecture, description, isFallbackAdapter } = gpu.info;
  const { limits, features } = gpu.adapter;
  const fingerprint = [
    limits.maxStorageBuffersPerShaderStage,
    limits.maxUniformBuffersPerShaderStage,
    limits.maxComputeWorkgroupStorageSize,
    limits.maxStorageBufferBindingSize,
    [...features].sort().join(","),
  ].join("/");
  return [description, vendor, architecture, isFallbackAdapter ? "fallback" : "hardware"]
    .join(" | ") + ` | ${fingerprint}`;
}

/**
 * Times every candidate of every op with more than one, in the plan of `batch` and `mode`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu } from "../../mod.ts";
 * import { measureVariants } from "./tune.ts";
 * using model = new Model(await requestGpu(), lenet5());
 * const timings = await measureVariants(model, { batch: 8, mode: "eval", reps: 1, trials: 1 });
 * const conv = timings.find((t) => t.op === "conv2d.forward")!;
 * assert.ok(Object.keys(conv.ms).length > 1);
 * assert.ok(conv.fastest in conv.ms);
 * ```
 */
export async function measureVariants(
  model: Model,
  options: {
    batch?: number;
    mode?: Mode;
    reps?: number;
    trials?: number;
    onOp?: (timing: OpTiming) => void;
  } = {},
): Promise<OpTiming[]> {
  const batch = options.batch ?? DEFAULTS.batchSize, mode = options.mode ?? "train";
  const device = model.gpu.device;
  const rules: Tuning = { picks: {}, defaults: model.tuning.defaults };
  const base = await model.uncachedPlan(batch, mode, rules);
  const timings = new Map<string, OpTiming>();
  const alternatives = new Map<string, readonly string[]>();
  for (const op of [...base.forward, ...base.backward]) {
    if (op.tuning && op.tuning.alternatives.length > 1 && !timings.has(op.tuning.key)) {
      const { key } = op.tuning;
      timings.set(key, { key, op: op.name, layer: op.layer, ms: {}, fastest: "" });
      alternatives.set(key, op.tuning.alternatives);
    }
  }
  destroyPlan(base);
  // One plan per round, round r holding every op's r-th candidate; then trials that time every
  // candidate once each, interleaved, so that a burst of other load hits them all alike.
  const rounds = Math.max(0, ...[...alternatives.values()].map((a) => a.length));
  const runner = KernelRunner.for(device);
  const plans: StepPlan[] = [];
  const runs: { timing: OpTiming; variant: string; dispatches: Dispatch[] }[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const picks: Record<string, string> = {};
      for (const [key, names] of alternatives) if (round < names.length) picks[key] = names[round];
      const plan = await model.uncachedPlan(batch, mode, { picks, defaults: rules.defaults });
      plans.push(plan);
      for (const op of [...plan.forward, ...plan.backward]) {
        const key = op.tuning?.key;
        if (!key || picks[key] === undefined) continue;
        const timing = timings.get(key)!;
        if (runs.some((r) => r.timing === timing && r.variant === picks[key])) continue;
        runs.push({
          timing,
          variant: picks[key],
          dispatches: await runner.prepareAll(stepCalls([op])),
        });
      }
    }
    const trials = options.trials ?? 3;
    for (let trial = 0; trial < trials; trial++) {
      for (const { timing, variant, dispatches } of runs) {
        const best = Math.min(...Object.values(timing.ms));
        // A candidate already far behind the best is not worth more trials.
        if (timing.ms[variant] > 2 * best) continue;
        const ms = await timeDispatches(device, dispatches, { reps: options.reps, trials: 1 });
        timing.ms[variant] = Math.min(timing.ms[variant] ?? Infinity, ms);
      }
    }
  } finally {
    for (const plan of plans) destroyPlan(plan);
  }
  for (const timing of timings.values()) {
    timing.fastest = Object.entries(timing.ms).reduce((a, b) => (b[1] < a[1] ? b : a))[0];
    options.onOp?.(timing);
  }
  return [...timings.values()];
}

/** What {@linkcode tune} did. */
export interface TuneResult {
  /** The picks the model now uses. */
  tuning: Tuning;
  /** What was timed (`full` only). */
  timings: OpTiming[];
  /** How many of the picks came from the store. */
  stored: number;
}

/**
 * Sets the model's variant picks: `off` the adapter's built-in choices (`rulesFor`); `cached` the
 * picks the store holds for this adapter (the built-in choices for the rest); `full` times every
 * candidate in the plans of each (batch, mode) given and stores the fastest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lenet5, Model, requestGpu } from "../../mod.ts";
 * import { memoryTuningStore, tune } from "./tune.ts";
 * using model = new Model(await requestGpu(), lenet5());
 * const store = memoryTuningStore();
 * const full = await tune(model, "full", { store, plans: [{ batch: 4, mode: "eval" }], reps: 1, trials: 1 });
 * assert.ok(full.timings.length > 0);
 * const again = await tune(model, "cached", { store });
 * assert.deepEqual(again.tuning.picks, full.tuning.picks);
 * ```
 */
export async function tune(
  model: Model,
  level: TuneLevel,
  options: {
    store?: TuningStore;
    plans?: readonly { batch: number; mode: Mode }[];
    reps?: number;
    trials?: number;
    onOp?: (timing: OpTiming) => void;
  } = {},
): Promise<TuneResult> {
  const rules = rulesFor(model.gpu.info);
  const store = options.store ?? defaultStore;
  const adapter = adapterKey(model.gpu);
  if (level === "off") {
    model.tuning = rules;
    return { tuning: rules, timings: [], stored: 0 };
  }
  const stored = await store.load(adapter);
  const timings: OpTiming[] = [];
  const picks = { ...rules.picks, ...stored };
  if (level === "full") {
    model.tuning = rules;
    const plans = options.plans ?? [{ batch: DEFAULTS.batchSize, mode: "train" as const }];
    for (const { batch, mode } of plans) {
      for (const t of await measureVariants(model, { ...options, batch, mode })) {
        timings.push(t);
        picks[t.key] = t.fastest;
      }
    }
    await store.save(adapter, Object.fromEntries(timings.map((t) => [t.key, t.fastest])));
  }
  const tuning = { picks, defaults: rules.defaults };
  model.tuning = tuning;
  return { tuning, timings, stored: Object.keys(stored).length };
}

const defaultStore = memoryTuningStore();
