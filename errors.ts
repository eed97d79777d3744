/**
 * The errors the module throws for conditions a caller may want to tell apart, in one home that
 * every layer (data/, lib/, deno/, cli/) imports: bad arguments are `RangeError`s, bad files
 * `DataError`s, and the rest below.
 *
 * @module
 */

/**
 * An error about a data file; its message names the file and what was wrong, on one line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DataError } from "./errors.ts";
 * const e = new DataError("train-images-idx3-ubyte.gz", "gzip data is truncated");
 * assert.equal(e.message, "train-images-idx3-ubyte.gz: gzip data is truncated");
 * ```
 */
export class DataError extends Error {
  /** The file (or URL) the error is about. */
  readonly file: string;
  /**
   * An error about `file`.
   *
   * @param file the file or URL
   * @param problem what was wrong with it
   */
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "DataError";
    this.file = file;
  }
}

/**
 * A buffer the run needs is larger than the adapter allows; `maxBatch` says what would fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeviceLimitError } from "./errors.ts";
 * const e = new DeviceLimitError("too large", 6963);
 * assert.ok(e instanceof RangeError);
 * assert.equal(e.maxBatch, 6963);
 * ```
 */
export class DeviceLimitError extends RangeError {
  /** The largest batch size that fits, when known. */
  readonly maxBatch?: number;
  /**
   * An error with the batch that would fit.
   *
   * @param message what does not fit, and the limit
   * @param maxBatch the largest batch size that fits
   */
  constructor(message: string, maxBatch?: number) {
    super(message);
    this.name = "DeviceLimitError";
    this.maxBatch = maxBatch;
  }
}

/**
 * The device reported a validation or out-of-memory error, or was lost: results computed since
 * are not to be trusted, so the run stops.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GpuFaultError } from "./errors.ts";
 * assert.equal(new GpuFaultError("device lost").name, "GpuFaultError");
 * ```
 */
export class GpuFaultError extends Error {
  /**
   * An error about the device.
   *
   * @param message the device's first error, and how many followed
   */
  constructor(message: string) {
    super(message);
    this.name = "GpuFaultError";
  }
}

/**
 * A loss (or a weight) is NaN or infinite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NonFiniteError } from "./errors.ts";
 * assert.equal(new NonFiniteError("loss is NaN", 42).step, 42);
 * ```
 */
export class NonFiniteError extends Error {
  /** The training step at which it happened, when known. */
  readonly step?: number;
  /**
   * An error naming the step.
   *
   * @param message what is not finite, and where
   * @param step the training step
   */
  constructor(message: string, step?: number) {
    super(message);
    this.name = "NonFiniteError";
    this.step = step;
  }
}

/**
 * The model is already training, evaluating or predicting: its buffers serve one run at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ModelBusyError } from "./errors.ts";
 * assert.match(new ModelBusyError("train", "evaluate").message, /evaluate/);
 * ```
 */
export class ModelBusyError extends Error {
  /**
   * An error naming both runs.
   *
   * @param wanted what was asked for
   * @param running what is running
   */
  constructor(wanted: string, running: string) {
    super(
      `${wanted}: the model is busy with ${running}; a model runs one thing at a time (await it, or use another Model)`,
    );
    this.name = "ModelBusyError";
  }
}
