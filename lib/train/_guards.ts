// Invariants the training entry points check before touching the device.
import type { Split } from "../../data/dataset.ts";
import { ModelBusyError } from "../../errors.ts";

// Keyed by the model object (any object): this module needs nothing else of a model.
const running = new WeakMap<object, string>();

/** Runs `fn` as the model's only run: a second concurrent one throws {@linkcode ModelBusyError}. */
export async function exclusive<T>(model: object, what: string, fn: () => Promise<T>): Promise<T> {
  const current = running.get(model);
  if (current) throw new ModelBusyError(what, current);
  running.set(model, what);
  try {
    return await fn();
  } finally {
    running.delete(model);
  }
}

/** What the model is running now (`train`, `evaluate`, ...), if anything. */
export function runningNow(model: object): string | undefined {
  return running.get(model);
}

/** Throws unless `split` has images and every label is a class of the model. */
export function checkSplit(split: Split, classes: number, what: string): void {
  if (split.count === 0) throw new RangeError(`${what}: the split is empty`);
  checkLabels(split.labels, classes, what);
}

/** Throws unless every label is an integer in 0..classes-1. */
export function checkLabels(labels: ArrayLike<number>, classes: number, what: string): void {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!(Number.isInteger(label) && label >= 0 && label < classes)) {
      throw new RangeError(
        `${what}: label ${label} at index ${i} is not a class of the model (0..${classes - 1})`,
      );
    }
  }
}
