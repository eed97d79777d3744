// Image files to RGBA pixels: PNG and JPEG through maintained npm decoders, PGM (P2/P5) here.
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import type { RgbaImage } from "../data/images.ts";

/**
 * Largest picture accepted, in pixels: 4096 × 4096 (16.8 megapixels, 64 MiB of RGBA). The size
 * is read from the header before anything is decoded, so memory is bounded by this, not by what
 * a file's format lets it declare (an interlaced 16-bit PNG or a text PGM expands many times).
 */
export const MAX_PIXELS = 4096 * 4096;

/** The limit, as error messages state it. */
const tooLarge = (kind: string, w: number, h: number) =>
  `a ${kind} of ${w}×${h} pixels is larger than the ${
    (MAX_PIXELS / 1e6).toFixed(1)
  } megapixels (4096×4096) this command accepts`;

/** The picture in `bytes`; anything else is an error naming `file` and what it is not. */
export function decodeImage(bytes: Uint8Array, file: string): RgbaImage {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  const fail = (what: string, e?: unknown): never => {
    const why = e instanceof Error ? ` (${e.message.split("\n")[0]})` : "";
    throw new Error(`${file}: ${what}${why}`);
  };
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) {
    // IHDR's width and height come first: refuse giants before decoding.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const [w, h] = bytes.length >= 24 ? [view.getUint32(16), view.getUint32(20)] : [0, 0];
    if (w * h > MAX_PIXELS) fail(tooLarge("PNG", w, h));
    try {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data) };
    } catch (e) {
      return fail("not a valid PNG image", e);
    }
  }
  if (starts(0xff, 0xd8, 0xff)) {
    try {
      const image = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: MAX_PIXELS / 1e6,
        maxMemoryUsageInMB: 512,
      });
      return { width: image.width, height: image.height, data: new Uint8Array(image.data) };
    } catch (e) {
      return fail("not a valid JPEG image", e);
    }
  }
  if (starts(0x50, 0x32) || starts(0x50, 0x35)) return decodePgm(bytes, file);
  return fail("not a PNG, JPEG or PGM image");
}

/**
 * Reads a plain (P2) PGM's decimal values from `start` into `values`, streaming over the bytes
 * (no text or array of the whole file): how many it read, stopping at the first that is not a
 * number from 0 to `max`.
 */
function readPlainValues(bytes: Uint8Array, start: number, values: Float64Array, max: number) {
  let count = 0, value = -1, comment = false;
  for (let i = start; i <= bytes.length && count < values.length; i++) {
    const b = i < bytes.length ? bytes[i] : 0x20;
    if (comment) {
      comment = b !== 0x0a;
    } else if (b >= 0x30 && b <= 0x39) {
      value = (value < 0 ? 0 : value * 10) + (b - 0x30);
      if (value > max) return count;
    } else if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09 || b === 0x23) {
      if (value >= 0) values[count++] = value;
      value = -1;
      comment = b === 0x23;
    } else {
      return count;
    }
  }
  return count;
}

/** Netpbm grey maps: P2 (text) and P5 (binary, 8 or 16 bits). */
function decodePgm(bytes: Uint8Array, file: string): RgbaImage {
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, Math.min(bytes.length, 4096)));
  const header = /^P([25])(?:\s+|#[^\n]*\n)*(\d+)(?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)\s/
    .exec(text);
  if (!header) throw new Error(`${file}: not a valid PGM image (bad header)`);
  const [, kind, ws, hs, maxs] = header;
  const [w, h, max] = [Number(ws), Number(hs), Number(maxs)];
  if (!(w > 0 && h > 0 && max > 0 && max < 65536)) {
    throw new Error(`${file}: not a valid PGM image (${w}×${h}, maximum ${max})`);
  }
  if (w * h > MAX_PIXELS) throw new Error(`${file}: ${tooLarge("PGM", w, h)}`);
  const values = new Float64Array(w * h);
  if (kind === "5") {
    const wide = max > 255, start = header[0].length, need = w * h * (wide ? 2 : 1);
    if (bytes.length - start < need) {
      throw new Error(`${file}: not a valid PGM image (${bytes.length - start} of ${need} bytes)`);
    }
    for (let i = 0; i < w * h; i++) {
      values[i] = wide ? (bytes[start + 2 * i] << 8) | bytes[start + 2 * i + 1] : bytes[start + i];
    }
  } else if (readPlainValues(bytes, header[0].length, values, max) < w * h) {
    throw new Error(`${file}: not a valid PGM image (expected ${w * h} values from 0 to ${max})`);
  }
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const g = Math.round((values[i] / max) * 255);
    data.set([g, g, g, 255], 4 * i);
  }
  return { width: w, height: h, data };
}
