// The convolution's shape and its arithmetic, shared by the convolution kernels (conv2d.ts,
// conv2d_weight.ts).
import { windowOutputSize } from "./spec.ts";

/** Shape of a convolution. */
export interface Conv2dShape {
  /** Batch size B. */
  batch: number;
  /** Input channels C. */
  inChannels: number;
  /** Input height H. */
  height: number;
  /** Input width W. */
  width: number;
  /** Output channels O. */
  outChannels: number;
  /** Kernel size [KH, KW]. */
  kernel: readonly [number, number];
  /** Stride [SH, SW]. */
  stride: readonly [number, number];
  /** Zero padding [PH, PW]. */
  padding: readonly [number, number];
}

/** The shape's sizes under their usual one-letter names, with the output size. */
export function dims(s: Conv2dShape) {
  const [OH, OW] = windowOutputSize([s.height, s.width], s.kernel, s.stride, s.padding);
  if (OH < 1 || OW < 1) throw new RangeError(`conv2d: output would be ${OH}×${OW}`);
  const [KH, KW] = s.kernel, [SH, SW] = s.stride, [PH, PW] = s.padding;
  const { batch: B, inChannels: C, height: H, width: W, outChannels: O } = s;
  return { B, C, H, W, O, KH, KW, SH, SW, PH, PW, OH, OW, KK: KH * KW, CKK: C * KH * KW };
}

/** A kernel label: its name and the shape. */
export function label(name: string, s: Conv2dShape): string {
  return `${name} ${s.inChannels}x${s.height}x${s.width}→${s.outChannels} k${s.kernel[0]}`;
}
