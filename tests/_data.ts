// The committed Fashion-MNIST, loaded once per test module, and real subsets of it.
import { loadFashionMnist } from "../data/locate.ts";
import type { ImageDataset, Split } from "../data/dataset.ts";

let cached: Promise<ImageDataset> | undefined;
/** The committed copy (no download, no environment). */
export function fashionMnist(): Promise<ImageDataset> {
  return cached ??= loadFashionMnist({ useEnv: false, download: false });
}

/** The first `n` images of a split. */
export function head(split: Split, n: number): Split {
  const px = split.rows * split.cols;
  return {
    ...split,
    count: n,
    images: split.images.subarray(0, n * px),
    labels: split.labels.subarray(0, n),
  };
}
