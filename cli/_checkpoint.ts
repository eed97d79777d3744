// A LeNet-5 from a checkpoint file, for the commands that read one (eval, predict).
import { ACTIVATION_KINDS, type ActivationKind } from "../kernels/activation.ts";
import { POOL_KINDS, type PoolKind } from "../kernels/pool.ts";
import { choiceFlag, UsageError } from "./_args.ts";
import { commandGpu } from "./_gpu.ts";
import { readRegularFile } from "../deno/files.ts";
import { DataError, DEFAULTS, type Gpu, lenet5, loadCheckpoint, Model } from "../mod.ts";
import { checkLenetSize } from "../lib/nn/lenet.ts";
import { checkpointArchitecture, checkpointMetadata } from "../engine.ts";

/** The flags every checkpoint-reading command has. */
export const CHECKPOINT_FLAGS = {
  checkpoint: { type: "string", value: "FILE", help: "safetensors file of the model (required)" },
  activation: {
    type: "string",
    value: ACTIVATION_KINDS.join("|"),
    help: "activation, when the file does not say (a PyTorch state_dict)",
    default: "the file's, else sigmoid",
  },
  pool: {
    type: "string",
    value: POOL_KINDS.join("|"),
    help: "pooling, when the file does not say",
    default: "the file's, else avg",
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
  activation: ActivationKind;
  /** Its pooling. */
  pool: PoolKind;
}

/**
 * Reads `--checkpoint`, settles the architecture (the file's metadata, or the flags when it has
 * none, else the reference's, said on stderr; flags that disagree with the file are an error) and
 * loads the weights into a new model.
 */
export async function modelFromCheckpoint(
  flags: Record<string, string | boolean | undefined>,
  options: { requireArchitecture?: boolean } = {},
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
    return flag ?? value;
  };
  const given = {
    activation: architecture("activation", ACTIVATION_KINDS) as ActivationKind | undefined,
    pool: architecture("pool", POOL_KINDS) as PoolKind | undefined,
  };
  // A file that does not say (a PyTorch state_dict) is taken as the reference's architecture, and
  // the command says so, on stderr so that --json output stays clean.
  const assumed = (["activation", "pool"] as const).filter((key) => given[key] === undefined);
  if (assumed.length && options.requireArchitecture) {
    throw new UsageError(
      `${file} does not say its ${assumed.join(" or ")} (a PyTorch state_dict?): pass ${
        assumed.map((k) => `--${k}`).join(" and ")
      }`,
    );
  }
  if (assumed.length) {
    console.error(
      `note: ${file} does not say its ${
        assumed.join(" or ")
      } (a PyTorch state_dict?): assuming the reference's ${
        assumed.map((k) => `${k} ${DEFAULTS[k]}`).join(" and ")
      }; pass ${assumed.map((k) => `--${k}`).join(" and ")} otherwise`,
    );
  }
  const activation = given.activation ?? DEFAULTS.activation;
  const pool = given.pool ?? DEFAULTS.pool;
  // A checkpoint trained on resized images says so; PyTorch's state_dicts are 28×28. Its size
  // is checked in arithmetic before anything is built.
  const inputSize = saved.inputSize ?? DEFAULTS.inputSize;
  try {
    checkLenetSize(inputSize);
  } catch (e) {
    throw new DataError(file, `input_size ${inputSize} in its metadata: ${(e as Error).message}`);
  }
  const gpu = await commandGpu();
  const model = new Model(gpu, lenet5({ activation, pool, inputSize }));
  loadCheckpoint(model, bytes, file, { allowNonFinite: flags["allow-nonfinite"] === true });
  return { file, gpu, model, activation, pool };
}
