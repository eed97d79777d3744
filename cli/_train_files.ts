// A training run's files: the checkpoint and its metadata, the training state, the metrics and
// loss chart, and the best validation epoch's weights with the test accuracy measured on them.
import {
  describe,
  type EpochMetrics,
  evaluate,
  loadCheckpoint,
  lossChartSvg,
  type Model,
  type Optimizer,
  saveCheckpoint,
  type Split,
  type TrainProgress,
} from "../mod.ts";
import { encodeTrainingState, type LossPoint } from "../engine.ts";
import { readRegularFile, writeAllAtomic } from "../deno/files.ts";
import { RUN_SETTINGS, type RunConfig } from "./_train_config.ts";

/** The file in a run's folder that `--resume` continues from. */
export const STATE_FILE = "training_state.safetensors";

/**
 * The run's files, all rewritten together as one commit: after each epoch, and once more at the
 * end (with the last partial loss window, and the weights as they are after an interrupt). The
 * training state is renamed last: it is what `--resume` reads, so a crash mid-save leaves it at
 * the previous save, which the resumed run continues from exactly (rewriting the others).
 */
export function runFiles(
  out: string,
  run: { model: Model; optimizer: Optimizer; config: RunConfig; epochs: EpochMetrics[] },
  stepsPerEpoch: number,
) {
  const { model, optimizer, config, epochs } = run;
  return async (losses: readonly LossPoint[], progress: TrainProgress) => {
    const settings = {
      ...Object.fromEntries(
        Object.keys(RUN_SETTINGS).map((key) => {
          const v = config[key as keyof typeof RUN_SETTINGS];
          return [key, v === Infinity ? null : v];
        }),
      ),
      // The run's length, which a schedule spans (resume keeps it then).
      epochs: config.epochs,
    };
    const weights = await model.stateDict();
    const state = {
      model: weights,
      optimizer: await optimizer.stateDict(),
      progress,
      settings,
      network: describe(model.network, model.inputShape),
    };
    const lines = epochs.map((e) => JSON.stringify(e)).join("\n") + (epochs.length ? "\n" : "");
    const metadata = runMetadata(config, epochs, progress, stepsPerEpoch);
    // The weights of the best validation epoch so far, saved when they are the current ones.
    const atEpochEnd = progress.batch === 0 && progress.epoch === epochs.length;
    const best = bestEpoch(epochs);
    const bestFile: [string, Uint8Array][] = best && atEpochEnd && best === epochs.at(-1)
      ? [[
        `${out}/best.safetensors`,
        await saveCheckpoint(model, { ...metadata, val_accuracy: String(best.val_accuracy) }),
      ]]
      : [];
    await writeAllAtomic([
      ...bestFile,
      [`${out}/metrics.jsonl`, lines],
      [`${out}/loss.svg`, lossChartSvg({ losses, epochs, stepsPerEpoch })],
      [`${out}/model.safetensors`, await saveCheckpoint(model, metadata)],
      [`${out}/${STATE_FILE}`, encodeTrainingState({ ...state, epochs, losses: [...losses] })],
    ]);
  };
}

/** The epoch of the best validation accuracy (the first of equals), if the run validates. */
function bestEpoch(epochs: readonly EpochMetrics[]): EpochMetrics | undefined {
  return epochs.reduce<EpochMetrics | undefined>(
    (best, e) =>
      e.val_accuracy !== undefined && (!best || e.val_accuracy > best.val_accuracy!) ? e : best,
    undefined,
  );
}

/**
 * What model.safetensors says of its weights: the architecture, the epochs done, the step, and
 * the test accuracy only when the weights are those it was measured on (an epoch's end).
 */
function runMetadata(
  config: RunConfig,
  epochs: readonly EpochMetrics[],
  progress: TrainProgress,
  stepsPerEpoch: number,
): Record<string, string> {
  const atEpochEnd = progress.batch === 0 && progress.epoch === epochs.length;
  return {
    activation: config.activation,
    pool: config.pool,
    input_size: String(config.resize),
    recipe: config.recipe,
    epochs: String(progress.epoch),
    step: String(progress.step),
    test_accuracy: atEpochEnd ? String(epochs.at(-1)?.test_accuracy ?? "") : "",
    ...(atEpochEnd ? {} : {
      interrupted: `in epoch ${
        progress.epoch + 1
      } after ${progress.batch} of ${stepsPerEpoch} batches: these weights were not evaluated`,
    }),
    producer: "lenet-webgpu",
  };
}

/**
 * The test split measured once, on the best validation epoch's weights (best.safetensors),
 * written to selection.json: what a run that selects on validation reports.
 */
export async function measureSelection(
  out: string,
  model: Model,
  test: Split,
  epochs: readonly EpochMetrics[],
): Promise<Record<string, number> | undefined> {
  const best = bestEpoch(epochs);
  if (!best) return undefined;
  loadCheckpoint(
    model,
    await readRegularFile(`${out}/best.safetensors`),
    `${out}/best.safetensors`,
  );
  const result = await evaluate(model, test);
  const selection = {
    selected_epoch: best.epoch,
    val_loss: best.val_loss!,
    val_accuracy: best.val_accuracy!,
    test_loss: result.loss,
    test_accuracy: result.accuracy,
  };
  await writeAllAtomic([[`${out}/selection.json`, JSON.stringify(selection, null, 2) + "\n"]]);
  return selection;
}
