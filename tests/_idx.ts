// Builders of small IDX files (valid and broken) for the data tests.

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
