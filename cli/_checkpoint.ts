// The model of a checkpoint file, for the commands that read one (eval, predict, export): the
// network the file describes, or LeNet-5 for a file that does not (older files, PyTorch's).
import { ACTIVATION_KINDS, type ActivationKind } from "../kernels/activation.ts";
import { POOL_KINDS, type PoolKind } from "../kernels/pool.ts";
import { choiceFlag, UsageError } from "./_args.ts";
import { commandGpu } from "./_gpu.ts";
import { readRegularFile } from "../deno/files.ts";
import {
  type Architecture,
  buildNetwork,
  DataError,
  DEFAULTS,
  type Gpu,
  lenet5,
  loadCheckpoint,
  Model,
  type NetworkDescription,
} from "../mod.ts";
import { checkLenetSize } from "../lib/nn/lenet.ts";
import { checkpointArchitecture, checkpointMetadata } from "../engine.ts";

/** The flags every checkpoint-reading command has. */
export const CHECKPOINT_FLAGS = {
  checkpoint: { type: "string", value: "FILE", help: "safetensors file of the model (required)" },
  activation: {
    type: "string",
    value: ACTIVATION_KINDS.join("|"),
    help: "LeNet-5's activation, when the file does not say (a PyTorch state_dict)",
    default: "the file's, else sigmoid",
  },
  pool: {
    type: "string",
    value: POOL_KINDS.join("|"),
    help: "LeNet-5's pooling, when the file does not say",
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
  /** LeNet-5's activation; undefined for a network of another shape. */
  activation?: ActivationKind;
  /** LeNet-5's pooling; undefined for a network of another shape. */
  pool?: PoolKind;
  /** What the network is, for messages: `LeNet-5 (relu, max pooling)` or `a 9-layer network`. */
  name: string;
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
  if (saved.network) {
    return await describedModel(file, bytes, { ...saved, network: saved.network }, flags);
  }
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
  return { file, gpu, model, activation, pool, name: `LeNet-5 (${activation}, ${pool} pooling)` };
}

/**
 * The network a file describes, with its weights. `--activation` and `--pool` may only repeat
 * what a LeNet-5 file says; a network of another shape has neither to choose.
 */
async function describedModel(
  file: string,
  bytes: Uint8Array,
  saved: Partial<Architecture> & { network: NetworkDescription },
  flags: Record<string, string | boolean | undefined>,
): Promise<LoadedModel> {
  for (const key of ["activation", "pool"] as const) {
    const flag = flags[key];
    if (flag === undefined || flag === saved[key]) continue;
    throw new UsageError(
      saved[key] === undefined
        ? `--${key} applies to LeNet-5 files; ${file} describes its own network, which has no ${key} to choose`
        : `--${key} ${flag} disagrees with ${file}, which was saved with ${key} ${saved[key]}`,
    );
  }
  const gpu = await commandGpu();
  const model = new Model(gpu, buildNetwork(saved.network));
  loadCheckpoint(model, bytes, file, { allowNonFinite: flags["allow-nonfinite"] === true });
  const { activation, pool } = saved;
  const name = activation && pool
    ? `LeNet-5 (${activation}, ${pool} pooling)`
    : `a ${model.network.flat().length}-layer network`;
  return { file, gpu, model, activation, pool, name };
}
