import { assert, assertEquals } from "./_assert.ts";
import { maxAbsDiff, runKernel } from "./_gpu.ts";
import { type Augment, augmentDraws, gatherBatch } from "../kernels/batch.ts";
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

/** The augmenting gather's batch, on the CPU, from the draws `augmentDraws` gives. */
function augmentedReference(
  s: Split,
  a: Augment,
  start: number,
  batch: number,
  step: number,
): Float32Array {
  const { rows, cols } = s, out = new Float32Array(batch * rows * cols);
  for (let b = 0; b < batch; b++) {
    const item = order[start + b], d = augmentDraws(a, rows, cols, step, b);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        const sx = (d.flip ? cols - 1 - x : x) + d.dx, sy = y + d.dy;
        const inside = sx >= 0 && sx < cols && sy >= 0 && sy < rows;
        const e = d.erase;
        const erased = e && x >= e.x && x < e.x + e.w && y >= e.y && y < e.y + e.h;
        out[(b * rows + y) * cols + x] = inside && !erased
          ? s.images[item * rows * cols + sy * cols + sx] / 255
          : 0;
      }
    }
  }
  return out;
}

Deno.test("the augmenting gather draws crops, flips and erasures as its CPU reference does, per step", async () => {
  const s = split(9, 28, 28);
  const a: Augment = { seed: 7, cropPadding: 3, flip: true, erase: { p: 0.5, min: 4, max: 12 } };
  const k = gatherBatch({ batch: 6, srcHeight: 28, srcWidth: 28, dstHeight: 28, dstWidth: 28 }, a);
  const seen = new Set<string>();
  for (const step of [1, 2, 1234567]) {
    const [x, y] = await runKernel(k, [
      packed(s.images),
      packed(s.labels),
      order,
      new Uint32Array([2, 0, step, 0]),
      6 * 784,
      6,
    ]);
    assertEquals(
      Array.from(new Uint32Array(y.buffer)),
      Array.from(order.subarray(2, 8), (i) => s.labels[i]),
    );
    assertEquals(maxAbsDiff(x, augmentedReference(s, a, 2, 6, step)), 0);
    for (let b = 0; b < 6; b++) seen.add(JSON.stringify(augmentDraws(a, 28, 28, step, b)));
  }
  // Over 18 draws the crops, flips and erasures vary.
  const draws = [...seen].map((d) => JSON.parse(d));
  assert(new Set(draws.map((d) => `${d.dx},${d.dy}`)).size > 5, "crop offsets vary");
  assert(draws.some((d) => d.flip) && draws.some((d) => !d.flip), "some flipped, some not");
  assert(draws.some((d) => d.erase) && draws.some((d) => !d.erase), "some erased, some not");
});
