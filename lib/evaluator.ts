/**
 * Evaluation on the device: batches are gathered from the resident split, and the loss and
 * correct-count sums stay on the device until one read at the end.
 *
 * @module
 */
import type { Split } from "../data/dataset.ts";
import { gatherBatch } from "../kernels/batch.ts";
import { accumulateMetrics } from "../kernels/metrics.ts";
import { readFloats, storageBuffer, uniformBuffer } from "./buffers.ts";
import { type DeviceSplit, deviceSplit } from "./device_data.ts";
import { type Dispatch, type KernelCall, KernelRunner } from "./kernel_runner.ts";
import type { Model, Program } from "./model.ts";

/** Test loss and accuracy. */
export interface EvalResult {
  /** Mean cross-entropy. */
  loss: number;
  /** Fraction of images whose arg-max is the label. */
  accuracy: number;
  /** Images evaluated. */
  count: number;
  /** Wall-clock seconds. */
  seconds: number;
}

/** Options of {@linkcode evaluate}. */
export interface EvalOptions {
  /** Images per batch, default 256. */
  batchSize?: number;
}

/** The calls that assemble a batch of `program.batch` images starting at `window` into its input. */
export function gatherCall(
  program: Program,
  data: DeviceSplit,
  window: GPUBuffer,
  inputShape: readonly number[],
): KernelCall {
  return {
    kernel: gatherBatch({
      batch: program.batch,
      srcHeight: data.rows,
      srcWidth: data.cols,
      dstHeight: inputShape[1],
      dstWidth: inputShape[2],
    }),
    buffers: [data.images, data.labels, data.order, window, program.input, program.labels],
  };
}

/** The batch sizes covering `count` images: full batches, then the remainder. */
export function batchPlan(count: number, batchSize: number): { size: number; starts: number[] }[] {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  }
  const full = Math.floor(count / batchSize), rest = count % batchSize;
  const plan = [{ size: batchSize, starts: Array.from({ length: full }, (_, i) => i * batchSize) }];
  if (rest) plan.push({ size: rest, starts: [full * batchSize] });
  return plan.filter((p) => p.starts.length);
}

/** One step over a resident split: where its batch starts, and its prepared dispatches. */
export interface PlannedStep {
  /** Index in the split's order of the batch's first image. */
  start: number;
  /** Gather, forward, loss, metrics, then (training) backward and the `after` calls. */
  dispatches: Dispatch[];
}

/**
 * The steps of one pass over `data`: one program per batch size, each step gathering its batch
 * at the offset written to `window`, and adding its loss and correct count into `totals`.
 */
export async function planSteps(
  model: Model,
  data: DeviceSplit,
  batchSize: number,
  buffers: { window: GPUBuffer; totals: GPUBuffer },
  training: boolean,
  after: KernelCall[] = [],
): Promise<PlannedStep[]> {
  const runner = KernelRunner.for(model.gpu.device);
  const steps: PlannedStep[] = [];
  for (const { size, starts } of batchPlan(data.count, batchSize)) {
    const program = await model.program(size, training);
    const dispatches = await runner.prepareAll([
      gatherCall(program, data, buffers.window, model.inputShape),
      ...program.forward,
      ...program.loss,
      {
        kernel: accumulateMetrics(size),
        buffers: [program.rowLoss, program.rowCorrect, buffers.totals],
      },
      ...program.backward,
      ...after,
    ]);
    for (const start of starts) steps.push({ start, dispatches });
  }
  return steps;
}

/**
 * Mean loss and accuracy of `model` on `split`, in file order.
 *
 * @example
 * ```ts ignore
 * import { evaluate } from "./evaluator.ts";
 * const { accuracy, loss } = await evaluate(model, data.test);
 * ```
 */
export async function evaluate(
  model: Model,
  split: Split,
  options: EvalOptions = {},
): Promise<EvalResult> {
  const t0 = performance.now();
  const device = model.gpu.device;
  const runner = KernelRunner.for(device);
  const data = deviceSplit(device, split);
  const totals = storageBuffer(device, new Float32Array(4), "eval totals");
  const window = uniformBuffer(device, "eval window");
  const steps = await planSteps(model, data, options.batchSize ?? 256, { window, totals }, false);
  for (const { start, dispatches } of steps) {
    device.queue.writeBuffer(window, 0, new Uint32Array([start]));
    runner.submit(dispatches);
  }
  const [, lossSum, correct, count] = await readFloats(device, totals);
  totals.destroy();
  window.destroy();
  return {
    loss: lossSum / count,
    accuracy: correct / count,
    count,
    seconds: (performance.now() - t0) / 1000,
  };
}
