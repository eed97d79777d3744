// "Phone photos" of Fashion-MNIST test images, for the predict tests: large, colour, a dark
// object on a light, slightly uneven ground, off-centre, with noise; PNG, JPEG and PGM.
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import { Random } from "../lib/random.ts";

/** RGBA pixels of a photo of the 28×28 grey `pixels`, `scale` times larger, with margins. */
export function photo(pixels: Uint8Array, scale: number, seed: number) {
  const rng = new Random(seed);
  const side = 28 * scale;
  const [left, top] = [scale * 9, scale * 5]; // off-centre on a larger canvas
  const width = side + scale * 14, height = side + scale * 12;
  const tint = [0.55 + 0.3 * rng.next(), 0.35 + 0.3 * rng.next(), 0.25 + 0.3 * rng.next()];
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Bilinear sample of the object (0 outside it); the ground gets lighter to the right.
      const sx = (x - left + 0.5) / scale - 0.5, sy = (y - top + 0.5) / scale - 0.5;
      const v = sample(pixels, sx, sy) / 255;
      const ground = 225 + (20 * x) / width + 6 * (rng.next() - 0.5);
      for (let c = 0; c < 3; c++) {
        data[(y * width + x) * 4 + c] = Math.round(
          ground * (1 - v) + 255 * tint[c] * (1 - v * 0.9) * v,
        );
      }
      data[(y * width + x) * 4 + 3] = 255;
    }
  }
  return { width, height, data };
}

function sample(p: Uint8Array, x: number, y: number): number {
  const at = (
    xi: number,
    yi: number,
  ) => (xi < 0 || yi < 0 || xi > 27 || yi > 27 ? 0 : p[yi * 28 + xi]);
  const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
  const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
  const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
  return top * (1 - fy) + bottom * fy;
}

/** The photo as PNG bytes. */
export function pngBytes(image: { width: number; height: number; data: Uint8Array }): Uint8Array {
  const png = new PNG({ width: image.width, height: image.height });
  png.data.set(image.data);
  return new Uint8Array(PNG.sync.write(png));
}

/** The photo as JPEG bytes. */
export function jpegBytes(image: { width: number; height: number; data: Uint8Array }): Uint8Array {
  return new Uint8Array(jpeg.encode(image, 85).data);
}

/** The photo as a binary PGM (grey). */
export function pgmBytes(image: { width: number; height: number; data: Uint8Array }): Uint8Array {
  const head = new TextEncoder().encode(
    `P5\n# a test photo\n${image.width} ${image.height}\n255\n`,
  );
  const out = new Uint8Array(head.length + image.width * image.height);
  out.set(head);
  for (let i = 0; i < image.width * image.height; i++) {
    const [r, g, b] = image.data.subarray(4 * i, 4 * i + 3);
    out[head.length + i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return out;
}
