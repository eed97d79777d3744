/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets}, __metadata__?}` and the raw little-endian tensor bytes.
 * Pure bytes in and out, so it works in a browser as well as in Deno.
 *
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { DataError } from "../../errors.ts";

/** A tensor as stored: its dtype name, shape and raw bytes. */
export interface RawTensor {
  /** safetensors dtype, e.g. `F32`, `F64`, `I64`. */
  dtype: string;
  /** Shape. */
  shape: number[];
  /** Little-endian element bytes. */
  bytes: Uint8Array;
}

/** A decoded file. */
export interface SafetensorsFile {
  /** Tensors by name, in header order. */
  tensors: Record<string, RawTensor>;
  /** The `__metadata__` strings. */
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/**
 * Encodes float32 tensors (and optional metadata) as a safetensors file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ "0.bias": { shape: [2], data: new Float32Array([1, 2]) } });
 * assert.equal(new DataView(bytes.buffer).getBigUint64(0, true) % 8n, 0n); // header padded to 8 bytes
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new RangeError(
        `tensor "${name}": shape [${t.shape}] needs ${count} values, has ${t.data.length}`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape: [...t.shape],
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Decodes and validates a safetensors file: header length, JSON, dtypes, shapes and offsets.
 * Errors name `file` and the tensor at fault.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ w: { shape: [1], data: new Float32Array([3]) } });
 * assert.deepEqual(decodeSafetensors(bytes, "w.safetensors").tensors.w.shape, [1]);
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, file = "safetensors"): SafetensorsFile {
  const fail = (problem: string): never => {
    throw new DataError(file, problem);
  };
  if (bytes.length < 8) fail(`too short for a safetensors file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) {
    fail(
      `header length ${headerLength} exceeds the file (${bytes.length} bytes): not safetensors, or truncated`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (e) {
    return fail(`header is not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("header is not a JSON object");
  }
  const data = bytes.subarray(8 + headerLength);
  const tensors: Record<string, RawTensor> = {};
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      const ok = typeof entry === "object" && entry !== null && !Array.isArray(entry) &&
        Object.values(entry).every((v) => typeof v === "string");
      if (!ok) fail("__metadata__ must be an object of strings");
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e?.dtype !== "string" || !(e.dtype in DTYPE_BYTES)) {
      fail(`tensor "${name}" has unknown dtype ${JSON.stringify(e?.dtype)}`);
    }
    const dtype = e.dtype as string;
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0)
    ) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (end < begin || end - begin !== expected) {
      fail(`tensor "${name}" spans ${end - begin} bytes, its dtype and shape need ${expected}`);
    }
    if (end > data.length) {
      fail(`tensor "${name}" ends at byte ${end} of ${data.length}: the file is truncated`);
    }
    ranges.push([begin, end, name]);
    tensors[name] = { dtype, shape: shape as number[], bytes: data.subarray(begin, end) };
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let k = 1; k < ranges.length; k++) {
    if (ranges[k][0] < ranges[k - 1][1]) {
      fail(`tensors "${ranges[k - 1][2]}" and "${ranges[k][2]}" overlap`);
    }
  }
  return { tensors, metadata };
}

/**
 * An int64 tensor (PyTorch's `num_batches_tracked`) as floats, which hold every count up to 2²⁴
 * exactly; a larger or negative value is an error naming the tensor.
 */
function countsAsFloats(t: { shape: number[]; bytes: Uint8Array }, name: string, file: string) {
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  return Float32Array.from({ length: t.bytes.length / 8 }, (_, k) => {
    const v = view.getBigInt64(8 * k, true);
    if (v < 0n || v > 2n ** 24n) {
      throw new DataError(file, `tensor "${name}" holds ${v}, expected a count from 0 to 2^24`);
    }
    return Number(v);
  });
}

/**
 * The float32 tensors of a decoded file (int64 counts, PyTorch's `num_batches_tracked`,
 * converted); any other dtype is an error naming the tensor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSafetensors, encodeSafetensors, float32Tensors } from "./safetensors.ts";
 * const file = decodeSafetensors(encodeSafetensors({ w: { shape: [1], data: new Float32Array([3]) } }));
 * assert.equal(float32Tensors(file, "w.safetensors").w.data[0], 3);
 * ```
 */
export function float32Tensors(
  decoded: SafetensorsFile,
  file = "safetensors",
): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(decoded.tensors)) {
    if (t.dtype === "I64") {
      out[name] = { shape: t.shape, data: countsAsFloats(t, name, file) };
      continue;
    }
    if (t.dtype !== "F32") {
      throw new DataError(file, `tensor "${name}" has dtype ${t.dtype}, expected F32 (float32)`);
    }
    const data = new Float32Array(t.bytes.length / 4);
    new Uint8Array(data.buffer).set(t.bytes);
    out[name] = { shape: t.shape, data };
  }
  return out;
}
