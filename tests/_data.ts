// The committed Fashion-MNIST, loaded once per test module, and real subsets of it.
import { loadFashionMnist } from "../deno/locate.ts";
import type { ImageDataset } from "../data/dataset.ts";
export { head } from "../data/dataset.ts";

let cached: Promise<ImageDataset> | undefined;
/** The committed copy (no download, no environment). */
export function fashionMnist(): Promise<ImageDataset> {
  return cached ??= loadFashionMnist({ useEnv: false, download: false });
}
