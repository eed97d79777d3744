import { assert, assertEquals, assertRejects } from "./_assert.ts";
import {
  batches,
  classCounts,
  datasetFromBytes,
  type IdxFileBytes,
  type Split,
} from "../data/dataset.ts";
import { gzip, tinySpec, tinySplit } from "./_idx.ts";

async function tinyDataset(train = 20, test = 6) {
  const { spec, tr, te } = await tinySpec(train, test);
  const files: IdxFileBytes = {
    trainImages: ["ti.gz", await gzip(tr.images)],
    trainLabels: ["tl.gz", await gzip(tr.labels)],
    testImages: ["si.gz", await gzip(te.images)],
    testLabels: ["sl.gz", te.labels], // plain IDX is accepted too, when its hash matches
  };
  return { spec, files, tr, te };
}

Deno.test("datasetFromBytes verifies and decodes all four files", async () => {
  const { spec, files, tr } = await tinyDataset();
  const ds = await datasetFromBytes(spec, files, "memory");
  assertEquals([ds.train.count, ds.test.count, ds.train.rows, ds.train.cols], [20, 6, 4, 4]);
  assertEquals(Array.from(ds.train.images), Array.from(tr.pixels));
  assertEquals(classCounts(ds.train, 10), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
});

Deno.test("datasetFromBytes names the file on checksum and count mismatches", async () => {
  const { spec, files } = await tinyDataset();
  const bad = {
    ...files,
    trainImages: ["ti.gz", await gzip(tinySplit(20, 4, 4).images.map((v) => v ^ 1))],
  };
  await assertRejects(
    () => datasetFromBytes(spec, bad as IdxFileBytes, "m"),
    /^DataError: ti\.gz: SHA-256 of the decompressed data is [0-9a-f]{64}, expected/,
  );
  const fewer = tinySplit(19);
  const mismatched: IdxFileBytes = { ...files, trainLabels: ["tl.gz", fewer.labels] };
  await assertRejects(
    () => datasetFromBytes(spec, mismatched, "m", false),
    /tl\.gz: has 19 labels but ti\.gz has 20 images/,
  );
  const wrongCount = { ...spec, counts: { train: 21, test: 6 } };
  await assertRejects(
    () => datasetFromBytes(wrongCount, files, "m"),
    /ti\.gz: has 20 images, expected 21/,
  );
});

function split(count: number): Split {
  const t = tinySplit(count, 2, 2);
  return { count, rows: 2, cols: 2, images: t.pixels, labels: t.labelValues };
}

Deno.test("batches: sizes, [0,1] scaling, file order without shuffle", () => {
  const s = split(10);
  const all = [...batches(s, { batchSize: 4 })];
  assertEquals(all.map((b) => b.size), [4, 4, 2]);
  assertEquals(
    Array.from(all[0].images.subarray(0, 4)),
    [0, 1, 2, 3].map((v) => Math.fround(v / 255)),
  );
  assertEquals(Array.from(all[2].labels), [8, 9]);
});

Deno.test("batches: the same seed gives the same order, another seed another", () => {
  const s = split(50);
  const order = (seed: number) =>
    [...batches(s, { batchSize: 8, shuffle: true, seed })].flatMap((b) => Array.from(b.labels));
  const firstPixel = (seed: number) =>
    [...batches(s, { batchSize: 50, shuffle: true, seed })][0].images[0];
  assertEquals(order(3), order(3));
  assert(JSON.stringify(order(3)) !== JSON.stringify(order(4)));
  assertEquals(order(3).slice().sort(), Array.from(s.labels).sort());
  assertEquals(firstPixel(7), firstPixel(7));
});

Deno.test("batches: bilinear resize matches half-pixel interpolation", () => {
  const s: Split = {
    count: 1,
    rows: 2,
    cols: 2,
    images: new Uint8Array([0, 255, 255, 0]),
    labels: new Uint8Array([1]),
  };
  const [b] = [...batches(s, { batchSize: 1, resize: 4 })];
  assertEquals([b.height, b.width], [4, 4]);
  // Output row 0 samples source y = -0.25 (clamped to 0): 0, 0.25, 0.75, 1 of the way along x.
  const row0 = Array.from(b.images.subarray(0, 4), (v) => Math.round(v * 1000) / 1000);
  assertEquals(row0, [0, 0.25, 0.75, 1]);
  // The centre four are the mean of all four source pixels, blended 3:1.
  assert(Math.abs(b.images[5] - (0.75 * 0.25 + 0.25 * 0.75)) < 1e-6);
  const up = [...batches(s, { batchSize: 1, resize: 2 })][0];
  assertEquals(Array.from(up.images), [0, 1, 1, 0]);
});
