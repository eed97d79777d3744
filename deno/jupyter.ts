/**
 * Training progress in a Deno Jupyter notebook: one output that updates in place (the step, the
 * loss, images per second and each finished epoch), through the kernel's `Deno.jupyter.broadcast`.
 * Outside a notebook the callbacks do nothing, so the same cell runs anywhere.
 *
 * @module
 */
import type { EpochMetrics, TrainOptions } from "../mod.ts";
import type { StepEvent } from "../engine.ts";

interface JupyterApi {
  broadcast(type: string, content: Record<string, unknown>): Promise<void>;
}

/** `Deno.jupyter` when running in the Deno kernel, else undefined. */
function jupyter(): JupyterApi | undefined {
  try {
    return (Deno as unknown as { jupyter?: JupyterApi }).jupyter;
  } catch {
    return undefined;
  }
}

/**
 * `onStep` and `onEpoch` for {@linkcode TrainOptions} that draw a progress line updated in place
 * (at most every `everyMs` milliseconds) and a row per epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notebookProgress } from "./jupyter.ts";
 * const progress = notebookProgress();
 * assert.equal(typeof progress.onStep, "function"); // a no-op outside a notebook
 * await progress.onStep!({ epoch: 1, step: 1, batch: 1, batches: 2, images: 256, seconds: 0.1 });
 * ```
 */
export function notebookProgress(everyMs = 250): Pick<TrainOptions, "onStep" | "onEpoch"> {
  const kernel = jupyter();
  const id = `lenet-webgpu-progress-${crypto.randomUUID()}`;
  const epochs: EpochMetrics[] = [];
  let shown = false, last = 0, loss = NaN;
  const draw = async (event: StepEvent | undefined) => {
    if (!kernel) return;
    const line = event
      ? `epoch ${event.epoch}, step ${event.step} (${event.batch}/${event.batches}), loss ${
        Number.isFinite(loss) ? loss.toFixed(4) : "…"
      }, ${(event.images / Math.max(event.seconds, 1e-9)).toFixed(0)} images/s`
      : "done";
    const rows = epochs.map((m) =>
      `<tr><td>${m.epoch}</td><td>${m.train_loss.toFixed(4)}</td><td>${
        m.test_accuracy.toFixed(4)
      }</td><td>${m.train_seconds.toFixed(1)} s</td></tr>`
    ).join("");
    const html = `<div><progress value="${event?.batch ?? 1}" max="${
      event?.batches ?? 1
    }"></progress> ${line}${
      rows
        ? `<table><tr><th>epoch</th><th>train loss</th><th>test accuracy</th><th>time</th></tr>${rows}</table>`
        : ""
    }</div>`;
    await kernel.broadcast(shown ? "update_display_data" : "display_data", {
      data: { "text/plain": line, "text/html": html },
      metadata: {},
      transient: { display_id: id },
    });
    shown = true;
  };
  return {
    onStep: async (event) => {
      if (event.loss !== undefined) loss = event.loss;
      const now = performance.now();
      if (now - last >= everyMs || event.batch === event.batches) {
        last = now;
        await draw(event);
      }
    },
    onEpoch: async (metrics) => {
      epochs.push(metrics);
      await draw(undefined);
    },
  };
}
