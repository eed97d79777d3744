// A LeNet-5 from a checkpoint file, for the commands that read one (eval, predict).
import { choiceFlag, UsageError } from "./_args.ts";
import { commandGpu } from "./_gpu.ts";
import { readRegularFile } from "../deno/files.ts";
import {
  checkpointArchitecture,
  checkpointMetadata,
  DEFAULTS,
  type Gpu,
  lenet5,
  loadCheckpoint,
  Model,
} from "../mod.ts";

/** The flags every checkpoint-reading command has. */
export const CHECKPOINT_FLAGS = {
  checkpoint: { type: "string", value: "FILE", help: "safetensors file of the model (required)" },
  activation: {
    type: "string",
    value: "sigmoid|relu",
    help: "activation; required when the file does not say (a PyTorch state_dict)",
    default: "from the file",
  },
  pool: {
    type: "string",
    value: "avg|max",
    help: "pooling; required when the file does not say",
    default: "from the file",
  },
  "allow-nonfinite": { type: "boolean", help: "load weights that hold NaN or infinity" },
} as const;

/** The model of a checkpoint, on this machine's device. */
export interface LoadedModel {
  /** The checkpoint's path. */
  file: string;
  /** The device. */
  gpu: Gpu;
  /** The model with the file's weights. */
  model: Model;
  /** Its activation. */
  activation: "sigmoid" | "relu";
  /** Its pooling. */
  pool: "avg" | "max";
}

/**
 * Reads `--checkpoint`, settles the architecture (the file's metadata, or the flags when it has
 * none; flags that disagree with the file are an error) and loads the weights into a new model.
 */
export async function modelFromCheckpoint(
  flags: Record<string, string | boolean | undefined>,
): Promise<LoadedModel> {
  const file = flags.checkpoint;
  if (typeof file !== "string" || !file) throw new UsageError("--checkpoint FILE is required");
  const bytes = await readRegularFile(file);
  const saved = checkpointArchitecture(checkpointMetadata(bytes, file), file);
  const architecture = (key: "activation" | "pool", choices: readonly string[]) => {
    const flag = flags[key] === undefined ? undefined : choiceFlag(key, flags[key], choices, "");
    const value = saved[key];
    if (flag && value && flag !== value) {
      throw new UsageError(
        `--${key} ${flag} disagrees with ${file}, which was saved with ${key} ${value}`,
      );
    }
    const chosen = flag ?? value;
    if (!chosen) {
      throw new UsageError(
        `${file} does not say its ${key} (a PyTorch state_dict?): pass --${key} ${
          choices.join("|")
        }`,
      );
    }
    return chosen;
  };
  const activation = architecture("activation", ["sigmoid", "relu"]) as "sigmoid" | "relu";
  const pool = architecture("pool", ["avg", "max"]) as "avg" | "max";
  const gpu = await commandGpu();
  // A checkpoint trained on resized images says so; PyTorch's state_dicts are 28×28.
  const model = new Model(
    gpu,
    lenet5({ activation, pool, inputSize: saved.inputSize ?? DEFAULTS.inputSize }),
  );
  loadCheckpoint(model, bytes, file, { allowNonFinite: flags["allow-nonfinite"] === true });
  return { file, gpu, model, activation, pool };
}
