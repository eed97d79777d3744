import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import {
  classCounts,
  datasetFromBytes,
  head,
  type IdxFileBytes,
  splitFromArrays,
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
    // The pixels changed, the IDX header kept: only the checksum can tell.
    trainImages: [
      "ti.gz",
      await gzip(tinySplit(20, 4, 4).images.map((v, i) => i < 16 ? v : v ^ 1)),
    ],
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

Deno.test("splitFromArrays checks the byte count; head takes a prefix without copying", () => {
  const images = Uint8Array.from({ length: 3 * 4 }, (_, k) => k);
  const split = splitFromArrays(images, Uint8Array.of(4, 5, 6), 2, 2);
  const first = head(split, 2);
  assertEquals([first.count, Array.from(first.labels)], [2, [4, 5]]);
  assert(first.images.buffer === images.buffer && first.images.length === 8);
  assertThrows(() => splitFromArrays(images, Uint8Array.of(1, 2), 2, 2), /12 bytes, 2 images/);
  assertThrows(() => splitFromArrays(images, Uint8Array.of(1), 0, 2), /rows must be a positive/);
});
