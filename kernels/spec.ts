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
  /**
   * A label for logs, profiles and errors, e.g. `conv2d_forward 1x28x28→6x28x28`. Not a cache key:
   * pipelines are cached by the generated source, so two specs that differ in any baked-in
   * constant can never share one.
   */
  name: string;
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
 * import assert from "node:assert/strict";
 * import { kernelSource } from "./spec.ts";
 * const wgsl = kernelSource({
 *   name: "fill",
 *   bindings: [{ name: "out", type: "array<f32>", access: "read_write" }],
 *   workgroupSize: 64,
 *   workgroupCount: 1,
 *   body: "out[i] = 1.0;",
 * });
 * assert.match(wgsl, /@compute @workgroup_size\(64\)/);
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
  return `// ${spec.name}
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

/**
 * WGSL true when any of `conditions` is, with `|`: WGSL's `||` (and `&&`) short-circuits, a
 * branch per use, and unrolled kernels use them by the dozen. SwiftShader compiled conv1's
 * weight gradient (30 in its loop body) in 181 s, and in under a second without; lavapipe did
 * not care.
 * Every operand is evaluated, so each must be safe alone (WGSL reads and arithmetic are).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { anyOf } from "./spec.ts";
 * assert.equal(anyOf("i >= 4u", "j >= 2u"), "(i >= 4u) | (j >= 2u)");
 * ```
 */
export function anyOf(...conditions: string[]): string {
  return conditions.map((c) => `(${c})`).join(" | ");
}

/**
 * WGSL true when all of `conditions` are, with `&` (see {@linkcode anyOf} for why not `&&`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allOf } from "./spec.ts";
 * assert.equal(allOf("x >= 0", "x < 28"), "(x >= 0) & (x < 28)");
 * ```
 */
export function allOf(...conditions: string[]): string {
  return conditions.map((c) => `(${c})`).join(" & ");
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

/** Output height and width of a convolution or pooling window over an input. */
export function windowOutputSize(
  size: readonly [number, number],
  kernel: readonly [number, number],
  stride: readonly [number, number],
  padding: readonly [number, number],
): [number, number] {
  const out = (i: 0 | 1) => Math.floor((size[i] + 2 * padding[i] - kernel[i]) / stride[i]) + 1;
  return [out(0), out(1)];
}
