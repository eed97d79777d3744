import { assert, assertEquals } from "./_assert.ts";
import { maxAbsDiff, runKernel } from "./_gpu.ts";
import { gatherBatch } from "../kernels/batch.ts";
import { batches, type Split } from "../data/dataset.ts";

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

/** The images `picked` of `s`, in that order, as a split of their own. */
function subset(s: Split, picked: number[]): Split {
  const px = s.rows * s.cols;
  return {
    ...s,
    count: picked.length,
    images: Uint8Array.from(
      picked.flatMap((n) => Array.from(s.images.subarray(n * px, (n + 1) * px))),
    ),
    labels: Uint8Array.from(picked, (n) => s.labels[n]),
  };
}

const order = Uint32Array.from([4, 8, 0, 7, 2, 5, 1, 3, 6]);
const picked = [7, 2, 5, 1]; // order[3..7): the batch window starts at 3

for (const [rows, cols, resize] of [[5, 3, 0], [3, 3, 7], [6, 6, 4]]) {
  Deno.test(`gatherBatch ${rows}×${cols}${resize ? ` → ${resize}×${resize}` : ""} matches the CPU batches`, async () => {
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
    const [expected] = [
      ...batches(subset(s, picked), { batchSize: 4, resize: resize || undefined }),
    ];
    assertEquals(Array.from(new Uint32Array(y.buffer)), Array.from(expected.labels));
    const err = maxAbsDiff(x, expected.images);
    assert(err < 1e-6, `max difference ${err}`);
  });
}
