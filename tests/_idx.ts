// Builders of small IDX files (valid and broken) for the data tests.
import type { IdxDatasetSpec } from "../data/spec.ts";
import { sha256Hex } from "../data/idx.ts";

/** IDX bytes with the given magic, dimensions and payload. */
export function idxBytes(magic: number, dims: number[], payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(payload, 4 + 4 * dims.length);
  return out;
}

/** `count` images of rows×cols with pixel value (i*7 + p) % 256, and labels i % classes. */
export function tinySplit(count: number, rows = 4, cols = 4, classes = 10) {
  const pixels = new Uint8Array(count * rows * cols).map((_, k) =>
    (Math.floor(k / (rows * cols)) * 7 + (k % (rows * cols))) % 256
  );
  const labels = new Uint8Array(count).map((_, i) => i % classes);
  return {
    images: idxBytes(0x803, [count, rows, cols], pixels),
    labels: idxBytes(0x801, [count], labels),
    pixels,
    labelValues: labels,
  };
}

/** gzip through the web CompressionStream. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * A tiny 10-class dataset spec whose four files (`ti.gz`, `tl.gz`, `si.gz`, `sl.gz`) are
 * `tinySplit(train)` and `tinySplit(test)`, with their SHA-256 and counts.
 */
export async function tinySpec(train: number, test: number) {
  const tr = tinySplit(train), te = tinySplit(test);
  const spec: IdxDatasetSpec = {
    name: "tiny",
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    files: {
      trainImages: { file: "ti.gz", sha256: await sha256Hex(tr.images) },
      trainLabels: { file: "tl.gz", sha256: await sha256Hex(tr.labels) },
      testImages: { file: "si.gz", sha256: await sha256Hex(te.images) },
      testLabels: { file: "sl.gz", sha256: await sha256Hex(te.labels) },
    },
    mirrors: [],
    counts: { train, test },
  };
  return { spec, tr, te };
}
