/**
 * Descriptors of IDX-format datasets: file names, SHA-256 of the decompressed bytes, class names
 * and download mirrors. Fashion-MNIST ships here; MNIST-format sets (MNIST, KMNIST) are described
 * the same way.
 *
 * @module
 */

/** One IDX file of a dataset. */
export interface IdxFileSpec {
  /** File name as published (gzip), e.g. `train-images-idx3-ubyte.gz`. */
  file: string;
  /** SHA-256 (hex) of the decompressed IDX bytes; mirrors re-compress, so the gzip hash varies. */
  sha256?: string;
  /** Size of the decompressed IDX bytes: decompression and downloads stop past it. */
  bytes?: number;
}

/** A dataset in the MNIST IDX layout: two splits, images and labels each. */
export interface IdxDatasetSpec {
  /** Short name; also the folder name in the cache. */
  name: string;
  /** Class names, index = label. */
  classNames: readonly string[];
  /** The four files. */
  files: {
    trainImages: IdxFileSpec;
    trainLabels: IdxFileSpec;
    testImages: IdxFileSpec;
    testLabels: IdxFileSpec;
  };
  /** Base URLs (ending in `/`) tried in order; each must serve every file name above. */
  mirrors: readonly string[];
  /** Expected number of images per split, checked after decoding when given. */
  counts?: { train: number; test: number };
}

/**
 * Fashion-MNIST (Zalando Research, MIT licence): 60,000 training and 10,000 test images of 28×28
 * grey pixels in 10 clothing classes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FASHION_MNIST } from "./spec.ts";
 * assert.equal(FASHION_MNIST.classNames[9], "Ankle boot");
 * ```
 */
export const FASHION_MNIST: IdxDatasetSpec = {
  name: "fashion-mnist",
  // As the dataset's authors name them.
  classNames: [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
  ],
  files: {
    trainImages: {
      file: "train-images-idx3-ubyte.gz",
      sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
      bytes: 47_040_016,
    },
    trainLabels: {
      file: "train-labels-idx1-ubyte.gz",
      sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
      bytes: 60_008,
    },
    testImages: {
      file: "t10k-images-idx3-ubyte.gz",
      sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
      bytes: 7_840_016,
    },
    testLabels: {
      file: "t10k-labels-idx1-ubyte.gz",
      sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
      bytes: 10_008,
    },
  },
  mirrors: [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
  ],
  counts: { train: 60000, test: 10000 },
};
