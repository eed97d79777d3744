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
import { lenet5 } from "../mod.ts";
import { heldOutRows } from "../engine.ts";
import { encodeSafetensors } from "../lib/io/safetensors.ts";
import { permutation, Random } from "../lib/random.ts";
import { RECIPES } from "../lib/train/recipe.ts";
import { writeAtomic } from "../deno/files.ts";
import type { Tensor } from "../lib/tensor.ts";

const TRAINING_IMAGES = 60_000; // Fashion-MNIST's training split

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string", default: "0" },
    epochs: { type: "string", default: String(RECIPES.modern.epochs) },
    validation: { type: "string", default: String(RECIPES.modern.validation) },
    out: { type: "string" },
  },
});
const count = (flag: string, text: string, min: number) => {
  const n = Number(text);
  if (!(Number.isInteger(n) && n >= min)) {
    console.error(`error: --${flag} must be an integer ≥ ${min}, got "${text}"`);
    Deno.exit(2);
  }
  return n;
};
const seed = count("seed", values.seed!, 0);
const epochs = count("epochs", values.epochs!, 1);
const validation = count("validation", values.validation!, 1);
if (!values.out) {
  console.error("error: --out FILE.safetensors is required");
  Deno.exit(2);
}

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
await writeAtomic(values.out, encodeSafetensors(tensors, meta));
console.log(`${values.out}: seed ${seed}, ${epochs} epochs, ${validation} held out`);
