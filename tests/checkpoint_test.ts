import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { testGpu } from "./_gpu.ts";
import { lenet5 } from "../lib/nn/lenet.ts";
import { Model } from "../lib/train/model.ts";
import { checkpointMetadata, loadCheckpoint, saveCheckpoint } from "../lib/io/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors, float32Tensors } from "../lib/io/safetensors.ts";

Deno.test("a checkpoint round-trips through safetensors with PyTorch names and shapes", async () => {
  const gpu = await testGpu();
  const a = new Model(gpu, lenet5({ seed: 1 }));
  const bytes = await saveCheckpoint(a, { activation: "sigmoid" });
  assertEquals(checkpointMetadata(bytes).activation, "sigmoid");
  const tensors = float32Tensors(decodeSafetensors(bytes));
  assertEquals(Object.keys(tensors), [
    "0.weight",
    "0.bias",
    "3.weight",
    "3.bias",
    "7.weight",
    "7.bias",
    "9.weight",
    "9.bias",
    "11.weight",
    "11.bias",
  ]);
  assertEquals(tensors["7.weight"].shape, [120, 400]);
  const b = new Model(gpu, lenet5({ seed: 2 }));
  loadCheckpoint(b, bytes, "a.safetensors");
  assertEquals(await b.stateDict(), await a.stateDict());
  const images = new Float32Array(2 * 784).map((_, i) => (i % 29) / 29);
  assertEquals((await b.predict(images, 2)).logits, (await a.predict(images, 2)).logits);
});

Deno.test("loading a checkpoint names the tensor whose name, dtype or shape is off", async () => {
  const model = new Model(await testGpu(), lenet5());
  const good = await model.stateDict();
  const variants: [
    string,
    Record<string, { shape: readonly number[]; data: Float32Array }>,
    RegExp,
  ][] = [
    [
      "wrong shape",
      { ...good, "3.weight": { shape: [16, 6, 25], data: good["3.weight"].data } },
      /f\.st: tensor "3\.weight" has shape \[16, 6, 25\], the model needs \[16, 6, 5, 5\]/,
    ],
    [
      "missing",
      Object.fromEntries(Object.entries(good).filter(([k]) => k !== "9.bias")),
      /f\.st: missing tensor "9\.bias" of shape \[84\]/,
    ],
    [
      "unexpected",
      { ...good, "12.weight": good["11.bias"] },
      /f\.st: unexpected tensor "12\.weight"/,
    ],
  ];
  for (const [what, tensors, re] of variants) {
    assertThrows(() => loadCheckpoint(model, encodeSafetensors(tensors), "f.st"), re, what);
  }
  // A float64 state_dict (torch.double) is refused, naming the tensor.
  const bytes = encodeSafetensors(good);
  const json = new TextDecoder().decode(
    bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))),
  );
  assert(json.includes('"0.weight":{"dtype":"F32"'));
  const header = JSON.parse(json);
  header["0.bias"] = { dtype: "F64", shape: [3], data_offsets: header["0.bias"].data_offsets };
  const patched = new TextEncoder().encode(JSON.stringify(header).padEnd(json.length));
  const f64 = bytes.slice();
  f64.set(patched, 8);
  assertThrows(
    () => loadCheckpoint(model, f64, "f.st"),
    /f\.st: tensor "0\.bias" has dtype F64, expected F32/,
  );
});

Deno.test("a checkpoint saved from another architecture, or holding NaN, does not load", async () => {
  const gpu = await testGpu();
  using relu = new Model(gpu, lenet5({ activation: "relu", pool: "max" }));
  using sigmoid = new Model(gpu, lenet5());
  const bytes = await saveCheckpoint(relu, { activation: "relu", pool: "max", input_size: "28" });
  assertThrows(
    () => loadCheckpoint(sigmoid, bytes, "relu.safetensors"),
    /relu\.safetensors: was saved from a model with activation relu; this model has sigmoid/,
  );
  const tensors = await relu.stateDict();
  tensors["0.bias"].data[2] = Infinity;
  const broken = encodeSafetensors(tensors, { activation: "relu", pool: "max" });
  assertThrows(() => loadCheckpoint(relu, broken, "b.safetensors"), /"0\.bias" has 1 non-finite/);
  loadCheckpoint(relu, broken, "b.safetensors", { allowNonFinite: true });
  assertEquals((await relu.stateDict())["0.bias"].data[2], Infinity);
});
