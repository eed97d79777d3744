import { assert, assertEquals } from "./_assert.ts";
import { permutation, Random } from "../lib/random.ts";

Deno.test("Random repeats per seed and is roughly uniform", () => {
  const a = new Random(5), b = new Random(5), c = new Random(6);
  const xs = Array.from({ length: 5 }, () => a.nextUint32());
  assertEquals(xs, Array.from({ length: 5 }, () => b.nextUint32()));
  assert(xs[0] !== c.nextUint32());
  const r = new Random(1);
  let sum = 0;
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 100000; i++) {
    const u = r.next();
    assert(u >= 0 && u < 1);
    sum += u;
    bins[Math.floor(u * 10)]++;
  }
  assert(Math.abs(sum / 100000 - 0.5) < 0.01);
  for (const n of bins) assert(Math.abs(n - 10000) < 500, `bin count ${n}`);
});

Deno.test("permutation is a seeded permutation", () => {
  const p = permutation(1000, new Random(9));
  assertEquals(Array.from(p).sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assertEquals(p, permutation(1000, new Random(9)));
  assert(p.some((v, i) => v !== i));
});
