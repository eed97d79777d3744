// What `deno task train` says while it trains: lines for a person, JSON events with --json, a
// progress bar, and the run's files saved after every epoch.
import { Progress } from "./_progress.ts";
import {
  type EpochMetrics,
  GpuFaultError,
  type ImageDataset,
  type Model,
  NonFiniteError,
  type Optimizer,
  type Split,
  train,
  type TrainProgress,
} from "../mod.ts";
import { augmentOf, type LossPoint, scheduleOf, type TrainingState } from "../engine.ts";
import type { RunConfig } from "./_train_config.ts";

/** Human-readable lines to stdout, or to stderr when stdout carries JSON events. */
export function reporter(json: boolean) {
  return {
    say: (line: string) => (json ? console.error(line) : console.log(line)),
    emit: (event: Record<string, unknown>) => json && console.log(JSON.stringify(event)),
  };
}

/** Trains, logging each step and epoch and saving the run's files after each epoch. */
export async function trainReporting(
  run: {
    model: Model;
    data: ImageDataset & { validation?: Split };
    optimizer: Optimizer;
    config: RunConfig;
    epochs: EpochMetrics[];
    saved?: TrainingState;
    out: string;
  },
  io: {
    say: (line: string) => void;
    emit: (event: Record<string, unknown>) => void;
    saveRun: (losses: readonly LossPoint[], progress: TrainProgress) => Promise<void>;
    signal: AbortSignal;
    onPhase: (phase: string) => void;
  },
) {
  const { model, data, optimizer, config, epochs, saved, out } = run;
  const progress = new Progress(config.epochs);
  const losses: LossPoint[] = [...saved?.losses ?? []];
  try {
    // With a validation split the test split is measured once, on the selected weights.
    const splits = data.validation
      ? { train: data.train, validation: data.validation }
      : { train: data.train, test: data.test };
    return await train(model, splits, {
      epochs: config.epochs,
      batchSize: config.batchSize,
      optimizer,
      seed: config.seed,
      logEvery: config.logEvery,
      signal: io.signal,
      onStep: (e) => {
        if (e.loss !== undefined) {
          losses.push({ step: e.step, loss: e.loss });
          const ips = e.images / e.seconds;
          io.emit({
            event: "step",
            epoch: e.epoch,
            step: e.step,
            loss: e.loss,
            images_per_second: ips,
          });
        }
        progress.step(e);
      },
      resume: saved?.progress,
      schedule: scheduleOf(config.schedule, config.warmupSteps),
      labelSmoothing: config.labelSmoothing,
      augment: augmentOf(config.augment, config.seed),
      onNote: (note) => console.error(`note: ${note}`),
      onPhase: io.onPhase,
      onEpoch: async (m, where) => {
        epochs.push(m);
        progress.clear();
        const [split, loss, accuracy] = m.val_accuracy === undefined
          ? ["test", m.test_loss, m.test_accuracy]
          : ["validation", m.val_loss!, m.val_accuracy];
        io.say(
          `epoch ${m.epoch}/${config.epochs}: train loss ${
            m.train_loss.toFixed(4)
          }, ${split} loss ${loss.toFixed(4)}, ${split} accuracy ${accuracy.toFixed(4)} | ${
            m.train_seconds.toFixed(1)
          } s, ` +
            `${m.images_per_second.toFixed(0)} img/s, eval ${m.eval_seconds.toFixed(1)} s`,
        );
        io.emit({ event: "epoch", ...m });
        await io.saveRun(losses, where);
      },
    });
  } catch (e) {
    // The files of the last finished epoch stay as they are: they are the last good state.
    if (e instanceof NonFiniteError || e instanceof GpuFaultError) {
      const kept = epochs.length
        ? `${out}/model.safetensors keeps the weights of epoch ${epochs.length}`
        : "no weights were saved";
      throw new Error(`training stopped: ${e.message}; ${kept}`);
    }
    throw e;
  } finally {
    progress.clear();
  }
}
