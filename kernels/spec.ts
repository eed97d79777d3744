/**
 * The kernel descriptor: what a WGSL compute kernel needs to be compiled, cached and dispatched.
 * Kernel factories in this folder return one; `lib/kernel_runner.ts` runs them.
 *
 * Every kernel is one-dimensional: `workgroupCount` workgroups of `workgroupSize` invocations.
 * The runner folds the count into x and y when it passes 65,535 and gives the body three indices:
 * `wg` (the linear workgroup index, uniform across the workgroup), `lidx` (the index within it) and
 * `i = wg * WORKGROUP_SIZE + lidx`. Indices derived from `wg` and loop counters let the compiler
 * see that every invocation loads the same address, which matters most on CPU adapters.
 *
 * @module
 */

/** How a kernel uses one buffer. */
export type BindingAccess = "read" | "read_write" | "uniform";

/** One buffer binding: its WGSL name, element type and access. */
export interface Binding {
  /** Variable name in WGSL. */
  name: string;
  /** WGSL type, e.g. `array<f32>` or a struct name defined in `helpers`. */
  type: string;
  /** Access mode. */
  access: BindingAccess;
}

/** A compute kernel, specialised for its shapes. */
export interface KernelSpec {
  /** Cache key: the kernel family and every constant baked into the source. */
  key: string;
  /** Buffers in binding order (group 0, binding 0..n-1). */
  bindings: readonly Binding[];
  /** Invocations per workgroup (1-D). */
  workgroupSize: number;
  /** Number of workgroups (folded into 2-D by the runner when over 65,535). */
  workgroupCount: number;
  /** Module-scope WGSL: constants, structs and helper functions. */
  helpers?: string;
  /** Body of `main`; `wg`, `lidx` and `i` are in scope. */
  body: string;
}

/** Largest workgroup count per dimension that every WebGPU device accepts. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/** The folded dispatch size `[x, y]` for `count` workgroups. */
export function foldWorkgroups(count: number): [number, number] {
  if (count <= MAX_WORKGROUPS_PER_DIMENSION) return [Math.max(count, 1), 1];
  const y = Math.ceil(count / MAX_WORKGROUPS_PER_DIMENSION);
  return [Math.ceil(count / y), y];
}

/**
 * The complete WGSL module of a kernel: bindings, helpers and a `main` that computes the indices.
 *
 * @example
 * ```ts
 * import { kernelSource } from "./spec.ts";
 * const wgsl = kernelSource({
 *   key: "fill",
 *   bindings: [{ name: "out", type: "array<f32>", access: "read_write" }],
 *   workgroupSize: 64,
 *   workgroupCount: 1,
 *   body: "out[i] = 1.0;",
 * });
 * ```
 */
export function kernelSource(spec: KernelSpec): string {
  const [foldX] = foldWorkgroups(spec.workgroupCount);
  const decl = spec.bindings.map((b, n) => {
    const space = b.access === "uniform"
      ? "uniform"
      : `storage, ${b.access === "read" ? "read" : "read_write"}`;
    return `@group(0) @binding(${n}) var<${space}> ${b.name}: ${b.type};`;
  });
  return `// ${spec.key}
${decl.join("\n")}
const WORKGROUP_SIZE: u32 = ${spec.workgroupSize}u;
${spec.helpers ?? ""}
@compute @workgroup_size(${spec.workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lidx: u32) {
  let wg = wid.y * ${foldX}u + wid.x;
  let i = wg * WORKGROUP_SIZE + lidx;
${spec.body}
}
`;
}

/** `n` as a WGSL u32 literal. */
export function u32(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`not a u32: ${n}`);
  return `${n}u`;
}

/** `x` as a WGSL f32 literal. */
export function f32(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite f32: ${x}`);
  const s = String(Math.fround(x));
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** `ceil(a / b)` for positive integers. */
export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}

/** `n` lines (or expressions) made by `line(k)` for k = 0..n-1, joined by `sep`. */
export function unroll(n: number, line: (k: number) => string, sep = "\n"): string {
  return Array.from({ length: n }, (_, k) => line(k)).join(sep);
}

/** Largest divisor of `n` that is at most `limit` (register-block sizes that tile exactly). */
export function blockSize(n: number, limit: number): number {
  for (let d = Math.min(n, limit); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/** Floats in one uniform binding that every WebGPU device accepts (64 KiB). */
export const UNIFORM_BINDING_FLOATS = 16384;

/** One chunk of rows (images, matrix rows) read through a uniform view. */
export interface ImageChunk {
  /** First image. */
  first: number;
  /** Images in the chunk. */
  count: number;
  /** Float offset of the uniform view in the tensor (a multiple of 64: 256-byte alignment). */
  viewOffset: number;
  /** Float offset of the chunk's first image within the view. */
  base: number;
}

/** How a per-image tensor is split into uniform views. */
export interface ChunkPlan {
  /** Images per chunk (the last may have fewer). */
  images: number;
  /** Floats in each view (the WGSL array length × 4). */
  viewFloats: number;
  /** The chunks. */
  chunks: ImageChunk[];
}

/**
 * Splits `batch` images of `perImage` floats so that each chunk fits one uniform binding of
 * `maxUniformFloats`; null when not even one image fits. Views start at 64-float (256-byte)
 * boundaries; the last is clamped to end at `ceil64(batch · perImage)`, which the buffer must
 * hold (storage buffers here are rounded up to 256 bytes).
 */
export function uniformChunks(
  batch: number,
  perImage: number,
  maxUniformFloats: number,
): ChunkPlan | null {
  const total = ceilDiv(batch * perImage, 64) * 64;
  const viewFloats = Math.min(Math.floor(maxUniformFloats / 64) * 64, total);
  const images = total <= viewFloats ? batch : Math.floor((viewFloats - 63) / perImage);
  if (images < 1) return null;
  const chunks: ImageChunk[] = [];
  for (let first = 0; first < batch; first += images) {
    const start = first * perImage;
    const viewOffset = Math.min(Math.floor(start / 64) * 64, total - viewFloats);
    chunks.push({
      first,
      count: Math.min(images, batch - first),
      viewOffset,
      base: start - viewOffset,
    });
  }
  return { images, viewFloats, chunks };
}

/** The constants of each chunk (`first`, `count`, `base`), one 256-byte slot each. */
export function chunkConstants(plan: ChunkPlan): Uint32Array {
  const out = new Uint32Array(plan.chunks.length * 64);
  plan.chunks.forEach((c, k) => out.set([c.first, c.count, c.base], k * 64));
  return out;
}
