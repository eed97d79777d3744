/**
 * A pass over a resident split, as prepared dispatches: one step per batch, each gathering its
 * batch at the offset written to `window`, running the plan's forward pass and loss, adding into
 * `totals`, then (training) the backward pass and whatever follows (the optimiser's update).
 *
 * @module
 */
import { type Dispatch, KernelRunner } from "../gpu/kernel_runner.ts";
import type { DeviceSplit } from "./device_data.ts";
import type { Model } from "./model.ts";
import { type Mode, type PlanOp, type PlanOptions, stepCalls, type StepPlan } from "./plan.ts";
import { batchPlan, evenBatchSize, gatherOp, metricsOp } from "./step_ops.ts";
import type { Augment } from "../../kernels/batch.ts";
import { uniformBuffer } from "../gpu/buffers.ts";
import { totalsBuffer } from "./totals.ts";

/** One step of a pass: where its batch starts, its plan, its ops and their dispatches. */
export interface PassStep {
  /** Index in the split's order of the batch's first image. */
  start: number;
  /** The plan of the step's batch size. */
  plan: StepPlan;
  /** Gather, forward, loss, metrics, backward (training), then `after`. */
  ops: PlanOp[];
  /** The ops' prepared dispatches. */
  dispatches: Dispatch[];
}

/**
 * The steps of one pass over `data` in batches of `batchSize` (the last may be smaller; an
 * evaluation's batches are evened out to at most `batchSize`, see `evenBatchSize`).
 * `window` is a 16-byte uniform: the batch's first index, then its slot in a ring of `ring`
 * batch losses kept after the sums in `totals`. `after(plan)` adds ops at the end of every step
 * (the optimiser's update, an arg-max).
 */
export async function passSteps(
  model: Model,
  data: DeviceSplit,
  batchSize: number,
  buffers: { window: GPUBuffer; totals: GPUBuffer; ring?: number },
  mode: Mode,
  after: (plan: StepPlan) => PlanOp[] = () => [],
  options: PlanOptions & { augment?: Augment } = {},
): Promise<PassStep[]> {
  const runner = KernelRunner.for(model.gpu.device);
  const steps: PassStep[] = [];
  // Training batches are the caller's (PyTorch's DataLoader: full ones, then the rest);
  // evaluation's are evened out (the same predictions; the loss's float sum to rounding),
  // which often saves a plan.
  const most = mode === "eval" ? evenBatchSize(data.count, batchSize) : batchSize;
  // A batch too small to train on (BatchNorm needs two values per channel) is left out.
  const least = mode === "train" ? model.minTrainingBatch() : 1;
  for (const { size, starts } of batchPlan(data.count, most).filter((b) => b.size >= least)) {
    const plan = await model.plan(size, mode, options);
    const ops = [
      gatherOp(plan, data, buffers.window, model.inputShape, options.augment),
      ...plan.forward,
      ...plan.loss,
      metricsOp(plan, buffers.totals, buffers.window, buffers.ring),
      ...plan.backward,
      ...after(plan),
    ];
    const dispatches = await runner.prepareAll(stepCalls(ops));
    for (const start of starts) steps.push({ start, plan, ops, dispatches });
  }
  return steps;
}

/**
 * Compiles every pipeline (and builds every plan) of a pass over `data` ahead of its first use,
 * so that the first epoch's evaluation costs what every later one does. Nothing is run.
 */
export async function compilePass(
  model: Model,
  data: DeviceSplit,
  batchSize: number,
  mode: Mode,
): Promise<void> {
  const device = model.gpu.device;
  const window = uniformBuffer(device, "compile window");
  const totals = totalsBuffer(device, "compile totals");
  try {
    await passSteps(model, data, batchSize, { window, totals }, mode);
  } finally {
    window.destroy();
    totals.destroy();
  }
}
