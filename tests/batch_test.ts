import { assert, assertEquals } from "./_assert.ts";
import { maxAbsDiff, runKernel } from "./_gpu.ts";
import { gatherBatch } from "../kernels/batch.ts";
import type { Split } from "../data/dataset.ts";
import * as ref from "./_reference.ts";

function packed(bytes: Uint8Array): Uint32Array {
  const out = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  out.set(bytes);
  return new Uint32Array(out.buffer);
}

function split(count: number, rows: number, cols: number): Split {
  return {
    count,
    rows,
    cols,
    images: Uint8Array.from({ length: count * rows * cols }, (_, k) => (k * 37) % 256),
    labels: Uint8Array.from({ length: count }, (_, k) => (k * 3) % 10),
  };
}

const order = Uint32Array.from([4, 8, 0, 7, 2, 5, 1, 3, 6]);

// 4×4: whole words per image (copied by words); 5×3: bytes; then resizes.
for (const [rows, cols, resize] of [[4, 4, 0], [5, 3, 0], [3, 3, 7], [6, 6, 4]]) {
  Deno.test(`gatherBatch ${rows}×${cols}${resize ? ` → ${resize}×${resize}` : ""} matches the CPU reference`, async () => {
    const s = split(9, rows, cols);
    const out = resize || rows;
    const k = gatherBatch({
      batch: 4,
      srcHeight: rows,
      srcWidth: cols,
      dstHeight: out,
      dstWidth: resize || cols,
    });
    const [x, y] = await runKernel(k, [
      packed(s.images),
      packed(s.labels),
      order,
      new Uint32Array([3]),
      4 * out * (resize || cols),
      4,
    ]);
    const expected = ref.gather(s, order, 3, 4, out, resize || cols); // order[3..7)
    assertEquals(Array.from(new Uint32Array(y.buffer)), expected.labels);
    const err = maxAbsDiff(x, expected.images);
    assert(err < 1e-6, `max difference ${err}`);
  });
}

Deno.test("gatherBatch resizes with half-pixel bilinear interpolation (hand-computed values)", async () => {
  const images = new Uint8Array([0, 255, 255, 0]);
  const up = gatherBatch({ batch: 1, srcHeight: 2, srcWidth: 2, dstHeight: 4, dstWidth: 4 });
  const [x] = await runKernel(up, [
    packed(images),
    packed(new Uint8Array([1])),
    new Uint32Array([0]),
    new Uint32Array([0]),
    16,
    1,
  ]);
  // Output row 0 samples source y = -0.25 (clamped to 0): 0, 0.25, 0.75, 1 of the way along x.
  assertEquals(Array.from(x.subarray(0, 4), (v) => Math.round(v * 1000) / 1000), [
    0,
    0.25,
    0.75,
    1,
  ]);
  // The centre four are the mean of all four source pixels, blended 3:1.
  assert(Math.abs(x[5] - (0.75 * 0.25 + 0.25 * 0.75)) < 1e-6);
});
