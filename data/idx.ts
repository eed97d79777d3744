/**
 * Decoding of IDX files (the MNIST family's format), gzip through the web `DecompressionStream`,
 * and SHA-256 of the decoded bytes. Pure web APIs: no file access here.
 *
 * IDX layout: magic `0x0000TTNN` (TT = 0x08 for unsigned bytes, NN = number of dimensions), then
 * NN big-endian u32 dimensions, then the payload in row-major order.
 *
 * @module
 */
import { DataError } from "../errors.ts";

/** IDX magic number of an image file (unsigned bytes, 3 dimensions). */
export const IDX_IMAGES_MAGIC = 0x803;
/** IDX magic number of a label file (unsigned bytes, 1 dimension). */
export const IDX_LABELS_MAGIC = 0x801;

/** Decoded IDX images: `count` images of `rows`×`cols` bytes, row-major. */
export interface IdxImages {
  /** Number of images. */
  count: number;
  /** Image height in pixels. */
  rows: number;
  /** Image width in pixels. */
  cols: number;
  /** `count * rows * cols` pixel bytes. */
  pixels: Uint8Array;
}

/** True when `bytes` start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip bytes with the web `DecompressionStream`, fed in slices of
 * {@linkcode INFLATE_SLICE} bytes, and stops with a {@linkcode DataError} as soon as the output
 * is not an IDX file of unsigned bytes or grows past what its header declares or `maxBytes`;
 * bytes that are not gzip (a plain `.idx` file) are returned as they are. A truncated or corrupt
 * stream is a {@linkcode DataError} too. Fed whole, the decompressor inflates the entire input
 * before the first read returns (a 23 MB gzip of zeros became 10.6 GB); fed in slices, each read
 * holds at most a slice's worth (gzip expands at most ~1,032×), so memory stays within the size
 * the header declares.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gunzip } from "./idx.ts";
 * const raw = await gunzip(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 0]), "empty.idx");
 * assert.equal(raw.length, 8); // not gzip: returned as it is
 * // A gzip of 1 MiB of zeros is no IDX file: refused after its first bytes.
 * const zeros = new Blob([new Uint8Array(2 ** 20)]).stream().pipeThrough(new CompressionStream("gzip"));
 * const bomb = new Uint8Array(await new Response(zeros).arrayBuffer());
 * await assert.rejects(gunzip(bomb, "bomb.gz"), /bomb\.gz: not an IDX file/);
 * ```
 */
export async function gunzip(
  bytes: Uint8Array,
  file: string,
  maxBytes: number = MAX_IDX_BYTES,
): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  return await inflateIdx(sliced(bytes), file, maxBytes);
}

/** Compressed bytes handed to the decompressor at a time: at most ~4 MiB of output each. */
export const INFLATE_SLICE = 4096;

/** `bytes` as a stream of {@linkcode INFLATE_SLICE}-byte slices, each made only when pulled. */
export function sliced(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + INFLATE_SLICE));
      offset += INFLATE_SLICE;
    },
  }, { highWaterMark: 0 });
}

/**
 * Inflates a gzip stream into an IDX file's bytes, checking the header as soon as it arrives and
 * stopping at the size it declares (or `maxBytes`): a gzip bomb costs what the file may hold, not
 * what it expands to. The source is read only as the output is consumed.
 */
export async function inflateIdx(
  source: ReadableStream<Uint8Array>,
  file: string,
  maxBytes: number = MAX_IDX_BYTES,
): Promise<Uint8Array> {
  // Its writable side takes any BufferSource; these are Uint8Arrays.
  const inflate = new DecompressionStream("gzip") as unknown as TransformStream<
    Uint8Array,
    Uint8Array
  >;
  const reader = source.pipeThrough(inflate).getReader();
  const chunks: Uint8Array[] = [];
  let received = 0, limit = maxBytes;
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (e) {
        throw new DataError(
          file,
          `gzip data is truncated or corrupt (${e instanceof Error ? e.message : String(e)})`,
        );
      }
      if (next.done) break;
      chunks.push(next.value);
      received += next.value.length;
      limit = Math.min(maxBytes, declaredIdxBytes(chunks, received, file) ?? maxBytes);
      if (received > limit) {
        throw new DataError(
          file,
          `decompresses to more than the ${limit} bytes ${
            limit < maxBytes ? "its IDX header declares" : "this file may hold"
          }`,
        );
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return concat(chunks, received);
}

/** Largest decompressed IDX file accepted when no size is known (Fashion-MNIST's is 47 MB). */
export const MAX_IDX_BYTES = 2 ** 30;

/**
 * The bytes an IDX file declares once its header has arrived (magic, then one u32 per
 * dimension), else undefined; throws on a prefix that is no IDX header.
 */
function declaredIdxBytes(chunks: Uint8Array[], received: number, file: string) {
  if (received < 4) return undefined;
  const head = concat(chunks, Math.min(received, 4 + 4 * 255));
  const ndim = head[3];
  if (head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08) {
    const magic = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
    throw new DataError(file, `not an IDX file of unsigned bytes (magic 0x${magic})`);
  }
  if (received < 4 + 4 * ndim) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let payload = 1;
  for (let d = 0; d < ndim; d++) payload *= view.getUint32(4 + 4 * d);
  return 4 + 4 * ndim + payload;
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const c of chunks) {
    if (offset >= length) break;
    out.set(c.subarray(0, length - offset), offset);
    offset += c.length;
  }
  return out;
}

/**
 * Lower-case hex SHA-256 of `bytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256Hex } from "./idx.ts";
 * const hex = await sha256Hex(new TextEncoder().encode("abc"));
 * assert.equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function readHeader(bytes: Uint8Array, file: string, magic: number): number[] {
  const ndim = magic & 0xff;
  if (bytes.length < 4) {
    throw new DataError(file, `too short for an IDX header (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0);
  if (found !== magic) {
    throw new DataError(
      file,
      `bad IDX magic number 0x${found.toString(16).padStart(8, "0")}, expected 0x${
        magic.toString(16).padStart(8, "0")
      } (${ndim === 3 ? "images" : "labels"})`,
    );
  }
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new DataError(file, `IDX header is truncated (${bytes.length} of ${headerBytes} bytes)`);
  }
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d));
  const payload = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerBytes;
  if (actual !== payload) {
    throw new DataError(
      file,
      `IDX payload is ${actual} bytes, expected ${payload} for dimensions ${dims.join("×")}`,
    );
  }
  return dims;
}

/**
 * Decodes an IDX image file (magic 0x803) and checks its dimensions and payload length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeIdxImages } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 255]);
 * const { count, rows, cols, pixels } = decodeIdxImages(bytes, "one-pixel.idx");
 * assert.deepEqual([count, rows, cols, pixels[0]], [1, 1, 1, 255]);
 * ```
 */
export function decodeIdxImages(bytes: Uint8Array, file: string): IdxImages {
  const [count, rows, cols] = readHeader(bytes, file, IDX_IMAGES_MAGIC);
  if (rows === 0 || cols === 0) {
    throw new DataError(file, `image dimensions must be positive, got ${rows}×${cols}`);
  }
  return { count, rows, cols, pixels: bytes.subarray(16) };
}

/**
 * Decodes an IDX label file (magic 0x801) and checks every label is below `numClasses`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeIdxLabels } from "./idx.ts";
 * const labels = decodeIdxLabels(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 3, 9]), "l.idx", 10);
 * assert.deepEqual([...labels], [3, 9]);
 * ```
 */
export function decodeIdxLabels(bytes: Uint8Array, file: string, numClasses: number): Uint8Array {
  readHeader(bytes, file, IDX_LABELS_MAGIC);
  const labels = bytes.subarray(8);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new DataError(
        file,
        `label ${labels[i]} at index ${i} is out of range 0..${numClasses - 1}`,
      );
    }
  }
  return labels;
}
