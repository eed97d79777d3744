// Writes what `deno task train --recipe modern --seed S` draws (the initial weights, the held-out
// validation rows and every epoch's batch order) to one safetensors file, so that PyTorch's twin
// (`tools/pytorch_modern.py --inputs FILE`) trains on exactly the same inputs and only the
// arithmetic differs:
//
//   deno run --allow-write tools/twin_inputs.ts --seed 0 [--epochs 30] [--validation 5000] \
//     --out /tmp/twin0.safetensors
//
// Tensors (indices stored as float32, exact below 2^24): the network's `state_dict` names
// (`0.weight`, ...); `held_out`: the training split's rows held out, in the order drawn;
// `order.E` (E from 1): epoch E's shuffle, positions within the remaining training rows (which
// keep their original order, as `holdOut` leaves them).
import { parseArgs } from "node:util";
import { FASHION_MNIST, lenet5 } from "../mod.ts";
import { heldOutRows } from "../engine.ts";
import { numberFlag, runCli, UsageError } from "../cli/_args.ts";
import { encodeSafetensors } from "../lib/io/safetensors.ts";
import { permutation, Random } from "../lib/random.ts";
import { RECIPES } from "../lib/train/recipe.ts";
import { writeAtomic } from "../deno/files.ts";
import type { Tensor } from "../lib/tensor.ts";

const TRAINING_IMAGES = FASHION_MNIST.counts!.train;

await runCli(async () => {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seed: { type: "string" },
      epochs: { type: "string" },
      validation: { type: "string" },
      out: { type: "string" },
    },
  });
  const seed = numberFlag("seed", values.seed, 0, { integer: true, min: 0 });
  const epochs = numberFlag("epochs", values.epochs, RECIPES.modern.epochs, {
    integer: true,
    min: 1,
  });
  const validation = numberFlag("validation", values.validation, RECIPES.modern.validation, {
    integer: true,
    min: 1,
    max: TRAINING_IMAGES - 1,
  });
  if (!values.out) throw new UsageError("--out FILE.safetensors is required");
  await writeAtomic(values.out, encodeSafetensors(...twinInputs(seed, epochs, validation)));
  console.log(`${values.out}: seed ${seed}, ${epochs} epochs, ${validation} held out`);
}, "usage: tools/twin_inputs.ts --seed S [--epochs N] [--validation N] --out FILE.safetensors");

/** The tensors and metadata of the file (see the top of this file). */
function twinInputs(
  seed: number,
  epochs: number,
  validation: number,
): [Record<string, Tensor>, Record<string, string>] {
  const tensors: Record<string, Tensor> = {};
  const { activation, pool } = RECIPES.modern;
  for (const p of lenet5({ activation, pool, seed }).namedParameters()) {
    tensors[p.qualifiedName] = { shape: [...p.shape], data: p.data };
  }
  const floats = (a: Uint32Array): Tensor => ({ shape: [a.length], data: Float32Array.from(a) });
  tensors.held_out = floats(heldOutRows(TRAINING_IMAGES, validation, seed));
  // The trainer's shuffling generator: seeded with the seed itself, one permutation per epoch.
  const rng = new Random(seed);
  for (let e = 1; e <= epochs; e++) {
    tensors[`order.${e}`] = floats(permutation(TRAINING_IMAGES - validation, rng));
  }
  const meta = { seed: String(seed), epochs: String(epochs), validation: String(validation) };
  return [tensors, meta];
}
