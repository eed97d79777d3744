import { assertEquals, assertThrows } from "./_assert.ts";
import { decodeSafetensors, encodeSafetensors, float32Tensors } from "../lib/io/safetensors.ts";

const sample = {
  "0.weight": { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
  "0.bias": { shape: [2], data: new Float32Array([-1, 0.5]) },
};

/** A file with a hand-written header. */
function rawFile(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

Deno.test("safetensors round-trips float32 tensors and metadata, 8-byte aligned", () => {
  const bytes = encodeSafetensors(sample, { activation: "relu" });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals((8 + headerLength) % 8, 0);
  const file = decodeSafetensors(bytes, "m.safetensors");
  assertEquals(file.metadata, { activation: "relu" });
  const back = float32Tensors(file, "m.safetensors");
  assertEquals(back["0.weight"].shape, [2, 3]);
  assertEquals(Array.from(back["0.weight"].data), [1, 2, 3, 4, 5, 6]);
  assertEquals(Array.from(back["0.bias"].data), [-1, 0.5]);
});

Deno.test("safetensors errors name the file and the tensor", () => {
  const bytes = encodeSafetensors(sample);
  assertThrows(() => decodeSafetensors(bytes.subarray(0, 5), "f"), /^DataError: f: too short/);
  assertThrows(
    () => decodeSafetensors(bytes.subarray(0, bytes.length - 4), "f"),
    /tensor "0\.\w+" ends at byte \d+ of \d+: the file is truncated/,
  );
  assertThrows(() => decodeSafetensors(rawFile('{"a": [', 0), "f"), /f: header is not valid JSON/);
  assertThrows(
    () =>
      decodeSafetensors(rawFile({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, 8), "f"),
    /f: tensor "a" spans 4 bytes, its dtype and shape need 8/,
  );
  assertThrows(
    () =>
      decodeSafetensors(rawFile({ a: { dtype: "Q9", shape: [1], data_offsets: [0, 4] } }, 4), "f"),
    /f: tensor "a" has unknown dtype "Q9"/,
  );
  const overlapping = rawFile({
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
  }, 8);
  assertThrows(() => decodeSafetensors(overlapping, "f"), /tensors "a" and "b" overlap/);
  const f64 = decodeSafetensors(
    rawFile({ w: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, 8),
    "d",
  );
  assertThrows(
    () => float32Tensors(f64, "d.safetensors"),
    /d\.safetensors: tensor "w" has dtype F64, expected F32/,
  );
});
