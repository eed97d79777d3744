import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { toFashionInput } from "../data/images.ts";

/** A w×h RGBA picture of `ground` with a `box` (x, y, w, h) of `ink`, alpha 255. */
function picture(w: number, h: number, ground: number, ink: number, box: number[]) {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = x >= box[0] && x < box[0] + box[2] && y >= box[1] && y < box[1] + box[3];
      data.set(
        [inside ? ink : ground, inside ? ink : ground, inside ? ink : ground, 255],
        (y * w + x) * 4,
      );
    }
  }
  return { width: w, height: h, data };
}

/** Bounding box [x0, y0, x1, y1] of the lit pixels of a 28×28 input. */
function lit(pixels: Uint8Array): number[] {
  let [x0, y0, x1, y1] = [28, 28, -1, -1];
  pixels.forEach((v, i) => {
    if (v > 128) {
      const x = i % 28, y = Math.floor(i / 28);
      [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  });
  return [x0, y0, x1, y1];
}

Deno.test("a dark object on a light ground is negated, trimmed, fitted by its longest edge and centred", () => {
  // A tall 20×60 dark box on a 300×200 white photo, off-centre.
  const input = toFashionInput(picture(300, 200, 250, 10, [40, 100, 20, 60]));
  assert(input.inverted && /median brightness is 250 .*a light ground/.test(input.reason));
  const [x0, y0, x1, y1] = lit(input.pixels);
  assertEquals([y0, y1], [0, 27]); // the longest edge fills the square
  assertEquals(x1 - x0 + 1, 9); // 28 × 20/60, rounded
  assert(Math.abs((x0 + x1) / 2 - 13.5) <= 1, `centred: ${x0}..${x1}`);
  assertEquals(input.pixels[0], 0);
});

Deno.test("a light object on a dark ground is kept; --invert forces either way", () => {
  const light = picture(64, 64, 5, 240, [10, 20, 40, 20]);
  assertEquals(toFashionInput(light).inverted, false);
  assertEquals(toFashionInput(light, { invert: "yes" }).inverted, true);
  assertEquals(
    toFashionInput(picture(64, 64, 250, 0, [1, 1, 5, 5]), { invert: "no" }).inverted,
    false,
  );
  const wide = lit(toFashionInput(light).pixels);
  assertEquals([wide[0], wide[2]], [0, 27]); // 40 wide, 20 tall: the width fills
});

Deno.test("transparent pixels count as white; a blank picture gives a blank input; sizes are checked", () => {
  const cutout = picture(50, 50, 0, 0, [20, 10, 10, 30]);
  for (let i = 0; i < 50 * 50; i++) {
    const x = i % 50, y = Math.floor(i / 50);
    if (!(x >= 20 && x < 30 && y >= 10 && y < 40)) cutout.data[4 * i + 3] = 0; // transparent ground
  }
  const input = toFashionInput(cutout);
  assert(input.inverted);
  assertEquals(lit(input.pixels)[1], 0);
  assert(toFashionInput(picture(10, 10, 128, 128, [0, 0, 0, 0])).pixels.every((v) => v === 0));
  assertThrows(
    () => toFashionInput({ width: 2, height: 2, data: new Uint8Array(3) }),
    /needs 16 bytes/,
  );
});
