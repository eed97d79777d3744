import { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import {
  decodeIdxImages,
  decodeIdxLabels,
  gunzip,
  INFLATE_SLICE,
  inflateIdx,
  sha256Hex,
  sliced,
} from "../data/idx.ts";
import { createGzip } from "node:zlib";
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

/** A gzip of an IDX header declaring ten 28×28 images, then `mib` MiB of zeros. */
async function gzipBomb(mib: number): Promise<Uint8Array> {
  const gz = createGzip({ level: 9 });
  const parts: Uint8Array[] = [];
  gz.on("data", (c: Uint8Array) => parts.push(c));
  const ended = new Promise((done) => gz.on("end", done));
  gz.write(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28]));
  const zeros = new Uint8Array(1 << 20);
  for (let i = 0; i < mib; i++) {
    if (!gz.write(zeros)) await new Promise((drained) => gz.once("drain", drained));
  }
  gz.end();
  await ended;
  return new Uint8Array(await new Blob(parts as Uint8Array<ArrayBuffer>[]).arrayBuffer());
}

Deno.test("gunzip refuses a gzip bomb in bounded memory: it stops at the size the IDX header declares", async () => {
  const bomb = await gzipBomb(512); // 0.5 MB that expands to 512 MiB
  const before = Deno.memoryUsage().rss;
  await assertRejects(
    () => gunzip(bomb, "bomb.gz"),
    oneLine(/^bomb\.gz: decompresses to more than the 7856 bytes its IDX header declares$/),
  );
  const grown = (Deno.memoryUsage().rss - before) / 2 ** 20;
  console.log(
    `a ${bomb.length}-byte bomb of 512 MiB: resident memory grew ${grown.toFixed(0)} MiB`,
  );
  assert(grown < 64, `resident memory grew ${grown.toFixed(0)} MiB`);
});

Deno.test("inflateIdx reads the compressed input only as far as it must", async () => {
  const bomb = await gzipBomb(64);
  let pulled = 0;
  const counted = sliced(bomb).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        pulled += chunk.length;
        out.enqueue(chunk);
      },
    }),
  );
  await assertRejects(() => inflateIdx(counted, "bomb.gz"), /its IDX header declares/);
  assert(pulled <= 8 * INFLATE_SLICE, `${pulled} of ${bomb.length} compressed bytes read`);
});
