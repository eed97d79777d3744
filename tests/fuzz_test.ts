// Seeded mutation fuzzing of the file parsers (IDX, gzip, safetensors and checkpoint metadata):
// whatever the bytes, the only way out is a result or the project's DataError, never another
// exception, a hang or an allocation larger than the input. FUZZ_CASES=N runs N cases per parser
// (default 4000); FUZZ_SEED picks another sequence.
import { assert } from "./_assert.ts";
import { DataError } from "../errors.ts";
import { decodeIdxImages, decodeIdxLabels, gunzip } from "../data/idx.ts";
import { decodeSafetensors, encodeSafetensors, float32Tensors } from "../lib/io/safetensors.ts";
import { checkpointArchitecture } from "../lib/io/checkpoint.ts";
import { Random } from "../lib/random.ts";
import { gzip, tinySplit } from "./_idx.ts";

const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 4000);
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 1);

/** Interesting values for header fields: zero, one, limits, and near the input's size. */
const EDGES = [0, 1, 2, 3, 4, 7, 8, 255, 256, 0x7fffffff, 0x80000000, 0xffffffff];

/** A mutated copy of `seed`: flips, overwrites, truncation, extension, splices, edge values. */
function mutate(seed: Uint8Array, rng: Random): Uint8Array {
  let b = seed.slice();
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length ? rng.int(b.length) : 0;
    switch (rng.int(7)) {
      case 0: // flip a bit
        if (b.length) b[at] ^= 1 << rng.int(8);
        break;
      case 1: // a random byte
        if (b.length) b[at] = rng.int(256);
        break;
      case 2: // truncate
        b = b.subarray(0, at);
        break;
      case 3: { // extend with random bytes
        const more = Uint8Array.from({ length: 1 + rng.int(64) }, () => rng.int(256));
        const out = new Uint8Array(b.length + more.length);
        out.set(b);
        out.set(more, b.length);
        b = out;
        break;
      }
      case 4: { // an edge value in a 32-bit field (big- or little-endian)
        if (b.length >= 4) {
          const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
          const off = rng.int(b.length - 3);
          view.setUint32(off, EDGES[rng.int(EDGES.length)], rng.int(2) === 0);
        }
        break;
      }
      case 5: { // duplicate a slice elsewhere
        const len = rng.int(16);
        const from = rng.int(Math.max(1, b.length));
        b = Uint8Array.from([
          ...b.subarray(0, at),
          ...b.subarray(from, from + len),
          ...b.subarray(at),
        ]);
        break;
      }
      default: { // a 64-bit length (safetensors' header length) set to an edge
        if (b.length >= 8) {
          new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(
            0,
            BigInt(EDGES[rng.int(EDGES.length)]) * BigInt(1 + rng.int(3)),
            true,
          );
        }
      }
    }
  }
  return b;
}

/** Runs `parse` on `CASES` mutations of each seed; any error but DataError fails with its case. */
async function fuzz(
  name: string,
  seeds: Uint8Array[],
  parse: (bytes: Uint8Array) => unknown,
): Promise<{ ok: number; rejected: number }> {
  const rng = new Random(SEED);
  const counts = { ok: 0, rejected: 0 };
  for (let n = 0; n < CASES; n++) {
    const input = mutate(seeds[n % seeds.length], rng);
    try {
      await parse(input);
      counts.ok++;
    } catch (e) {
      if (!(e instanceof DataError)) {
        throw new Error(
          `${name}: case ${n} (FUZZ_SEED=${SEED}) threw ${e} for bytes ${
            Array.from(input.subarray(0, 48), (x) => x.toString(16).padStart(2, "0")).join("")
          }...`,
        );
      }
      counts.rejected++;
    }
  }
  console.log(
    `${name}: ${CASES} cases, ${counts.ok} parsed, ${counts.rejected} rejected with DataError`,
  );
  return counts;
}

const { images, labels } = tinySplit(3, 4, 5);

Deno.test("fuzz: IDX image and label decoding", async () => {
  const { ok, rejected } = await fuzz("idx", [images, labels], (bytes) => {
    // Each decoder on its own; the case counts as parsed when either accepts it.
    const decoders = [
      () => decodeIdxImages(bytes, "f.idx").pixels,
      () => decodeIdxLabels(bytes, "f.idx", 10),
    ];
    let parsed = 0;
    for (const decode of decoders) {
      try {
        assert(decode().length <= bytes.length, "no output larger than the input");
        parsed++;
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
      }
    }
    if (!parsed) throw new DataError("f.idx", "rejected by both decoders");
  });
  assert(ok > 0 && rejected > 0);
});

Deno.test("fuzz: gzip then IDX decoding", async () => {
  const seeds = [await gzip(images), await gzip(labels)];
  await fuzz("gzip+idx", seeds, async (bytes) => {
    const raw = await gunzip(bytes, "f.gz");
    decodeIdxImages(raw, "f.gz");
  });
});

Deno.test("fuzz: safetensors decoding, float32 tensors and checkpoint metadata", async () => {
  const seed = encodeSafetensors(
    {
      "0.weight": { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      "0.bias": { shape: [2], data: Float32Array.from([7, 8]) },
    },
    { activation: "relu", pool: "max", input_size: "28" },
  );
  const { ok } = await fuzz("safetensors", [seed], (bytes) => {
    const file = decodeSafetensors(bytes, "f.safetensors");
    const tensors = float32Tensors(file, "f.safetensors");
    const total = Object.values(tensors).reduce((n, t) => n + t.data.byteLength, 0);
    assert(total <= bytes.length, "no tensor data beyond the file");
    checkpointArchitecture(file.metadata, "f.safetensors");
  });
  assert(ok > 0);
});
