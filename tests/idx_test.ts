import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { decodeIdxImages, decodeIdxLabels, gunzip, sha256Hex } from "../data/idx.ts";
import { gzip, idxBytes, tinySplit } from "./_idx.ts";

const oneLine = (re: RegExp) => (e: unknown) => {
  assert(e instanceof Error && !e.message.includes("\n"), `not a one-line error: ${e}`);
  assert(re.test((e as Error).message), `unexpected message: ${(e as Error).message}`);
  return true;
};

Deno.test("decodeIdxImages reads dimensions and pixels", () => {
  const { images, pixels } = tinySplit(3, 2, 5);
  const img = decodeIdxImages(images, "imgs");
  assertEquals([img.count, img.rows, img.cols], [3, 2, 5]);
  assertEquals(Array.from(img.pixels), Array.from(pixels));
});

Deno.test("decodeIdxImages rejects a label file, a short header and a wrong payload length", () => {
  const { images, labels } = tinySplit(3);
  assertThrows(
    () => decodeIdxImages(labels, "l.idx"),
    oneLine(/^l\.idx: bad IDX magic.*0x00000803/),
  );
  assertThrows(() => decodeIdxImages(images.subarray(0, 2), "s"), oneLine(/^s: too short/));
  assertThrows(
    () => decodeIdxImages(images.subarray(0, 10), "h"),
    oneLine(/^h: IDX header is truncated/),
  );
  assertThrows(
    () => decodeIdxImages(images.subarray(0, images.length - 1), "t"),
    oneLine(/^t: IDX payload is 47 bytes, expected 48 for dimensions 3×4×4/),
  );
  const extra = new Uint8Array(images.length + 1);
  extra.set(images);
  assertThrows(() => decodeIdxImages(extra, "x"), oneLine(/payload is 49 bytes, expected 48/));
  assertThrows(
    () => decodeIdxImages(idxBytes(0x803, [2, 0, 4], new Uint8Array()), "z"),
    oneLine(/^z: image dimensions must be positive/),
  );
});

Deno.test("decodeIdxLabels checks magic and label range", () => {
  const { images, labels } = tinySplit(12);
  assertEquals(Array.from(decodeIdxLabels(labels, "l", 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  assertThrows(
    () => decodeIdxLabels(images, "i", 10),
    oneLine(/^i: bad IDX magic number 0x00000803, expected 0x00000801/),
  );
  assertThrows(
    () => decodeIdxLabels(idxBytes(0x801, [2], new Uint8Array([3, 10])), "big", 10),
    oneLine(/^big: label 10 at index 1 is out of range 0\.\.9/),
  );
});

Deno.test("gunzip round-trips, passes plain bytes through, and names a truncated file", async () => {
  const raw = tinySplit(5).images;
  const gz = await gzip(raw);
  assertEquals(await gunzip(gz, "a.gz"), raw);
  assertEquals(await gunzip(raw, "a.idx"), raw);
  await assertRejects(
    () => gunzip(gz.subarray(0, gz.length - 9), "cut.gz"),
    oneLine(/^cut\.gz: gzip data is truncated or corrupt/),
  );
  const flipped = gz.slice();
  flipped[20] ^= 0xff;
  await assertRejects(() => gunzip(flipped, "bad.gz"), oneLine(/^bad\.gz: gzip data/));
});

Deno.test("sha256Hex matches a known vector", async () => {
  assertEquals(
    await sha256Hex(new TextEncoder().encode("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
