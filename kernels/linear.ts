/**
 * Matrix multiply with optional transposes and bias, the core of `Linear`:
 *
 *   C[M, N] = A'[M, K] · B'[K, N] (+ bias[N])
 *   A' = transA ? Aᵀ (a stored [K, M]) : A (a stored [M, K])
 *   B' = transB ? Bᵀ (b stored [N, K]) : B (b stored [K, N])
 *
 * Linear(in → out) with x [B, in], weight w [out, in], bias [out] (w and bias are one segment):
 *   forward          y [B, out]  = x · wᵀ + bias      M=B,   N=out, K=in,  transB
 *   backward input   dx [B, in]  = dy · w             M=B,   N=in,  K=out
 *   backward weight  dw [out, in] = dyᵀ · x          M=out, N=in,  K=B,   transA
 *   backward bias    db [out]    = Σ_b dy             `sumRows` in reduce.ts
 *
 * Each invocation owns a TM×TN tile in registers. Workgroups index the column tile, so every
 * load from b is uniform across the workgroup; invocations step along the rows.
 *
 * @module
 */
import { activate, derivativeFromOutput, type FusibleActivation } from "./activation.ts";
import { allOf, anyOf, type Binding, ceilDiv, type KernelSpec, u32, unroll } from "./spec.ts";
import { type ChunkPlan, uniformChunks, viewAccessor, viewBindings, viewHelpers } from "./views.ts";

/** Shape and layout of a matrix multiply. */
export interface MatmulShape {
  /** Rows of C. */
  M: number;
  /** Columns of C. */
  N: number;
  /** Inner dimension. */
  K: number;
  /** A is stored transposed ([K, M]). */
  transA?: boolean;
  /** B is stored transposed ([N, K]). */
  transB?: boolean;
  /** Element offset of B in its buffer. Default 0. */
  bOffset?: number;
  /** Element offset in b of a bias [N] to add. Default: no bias. */
  biasOffset?: number;
  /** Element offset of C in its buffer. Default 0. */
  cOffset?: number;
  /** Tile rows per invocation (storage variant). Default 4. */
  tileM?: number;
  /** Tile columns per invocation. Default 8 (fewer when N is small). */
  tileN?: number;
  /** Store f(C) (an activation fused into the forward pass). */
  activation?: FusibleActivation;
  /**
   * Store C · f'(gate), gate [M, N] read from an extra binding before c (an activation's
   * backward fused into the backward to the input).
   */
  gate?: FusibleActivation;
}

/** The value stored for `acc` at C index `at` under the shape's epilogue. */
function epilogue(s: MatmulShape, acc: string, at: string): string {
  if (s.activation) return activate(s.activation, acc);
  if (s.gate) return `${acc} * ${derivativeFromOutput(s.gate, `gate[${at}]`)}`;
  return acc;
}

function label(name: string, s: MatmulShape): string {
  return `${name} ${s.M}x${s.N}x${s.K}${s.transA ? " Aᵀ" : ""}${s.transB ? " Bᵀ" : ""}`;
}

function gateBinding(s: MatmulShape): Binding[] {
  return s.gate ? [{ name: "gate", type: "array<f32>", access: "read" }] : [];
}

const WG = 64;

/**
 * C = A'·B' (+ bias), with an optional epilogue. Bindings: a, b, [gate,] c.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmul } from "./linear.ts";
 * // Linear(400 → 120) forward on a batch of 256, bias stored after the weights.
 * const k = matmul({ M: 256, N: 120, K: 400, transB: true, biasOffset: 120 * 400 });
 * assert.equal(k.bindings.length, 3); // a, b (weights then bias), c
 * ```
 */
export function matmul(s: MatmulShape): KernelSpec {
  const { M, N, K } = s;
  const TM = Math.min(s.tileM ?? 4, M);
  const TN = Math.min(s.tileN ?? 8, N);
  const bOff = s.bOffset ?? 0, cOff = s.cOffset ?? 0;
  const MT = ceilDiv(M, TM), NT = ceilDiv(N, TN);
  const rowGroups = ceilDiv(MT, WG);
  const row = (
    r: number,
  ) => (M % TM === 0 ? `m0 + ${u32(r)}` : `min(m0 + ${u32(r)}, ${u32(M - 1)})`);
  const col = (
    c: number,
  ) => (N % TN === 0 ? `n0 + ${u32(c)}` : `min(n0 + ${u32(c)}, ${u32(N - 1)})`);
  const aAt = (
    r: number,
  ) => (s.transA ? `a[k * ${u32(M)} + ${row(r)}]` : `a[(${row(r)}) * ${u32(K)} + k]`);
  const bAt = (c: number) =>
    s.transB
      ? `b[${u32(bOff)} + (${col(c)}) * ${u32(K)} + k]`
      : `b[${u32(bOff)} + k * ${u32(N)} + ${col(c)}]`;
  const store = (r: number, c: number) => {
    const at = `(m0 + ${u32(r)}) * ${u32(N)} + n0 + ${u32(c)}`;
    const guard = allOf(
      ...[
        M % TM ? `m0 + ${u32(r)} < ${u32(M)}` : "",
        N % TN ? `n0 + ${u32(c)} < ${u32(N)}` : "",
      ].filter(Boolean),
    );
    const write = `c[${u32(cOff)} + ${at}] = ${epilogue(s, `acc${r}_${c}`, at)};`;
    return guard ? `  if (${guard}) { ${write} }` : `  ${write}`;
  };
  const tiles = Array.from({ length: TM * TN }, (_, t) => [Math.floor(t / TN), t % TN]);
  return {
    name: `${label("matmul", s)} tile ${TM}x${TN}`,
    bindings: [
      { name: "a", type: "array<f32>", access: "read" },
      { name: "b", type: "array<f32>", access: "read" },
      ...gateBinding(s),
      { name: "c", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: NT * rowGroups,
    body: `
  let n0 = (wg / ${u32(rowGroups)}) * ${u32(TN)};
  let mt = (wg % ${u32(rowGroups)}) * WORKGROUP_SIZE + lidx;
  if (mt >= ${u32(MT)}) { return; }
  let m0 = mt * ${u32(TM)};
  // The bias first, then the products in order: the same sums as matmulUniformB's, so that the
  // tuner's choice never changes a result.
${
      tiles.map(([r, c]) =>
        `  var acc${r}_${c} = ${
          s.biasOffset === undefined ? "0.0" : `b[${u32(s.biasOffset)} + ${col(c)}]`
        };`
      ).join("\n")
    }
  for (var k = 0u; k < ${u32(K)}; k++) {
${unroll(TM, (r) => `    let a${r} = ${aAt(r)};`)}
${unroll(TN, (c) => `    let b${c} = ${bAt(c)};`)}
${tiles.map(([r, c]) => `    acc${r}_${c} += a${r} * b${c};`).join("\n")}
  }
${tiles.map(([r, c]) => store(r, c)).join("\n")}`,
  };
}

/** Which way {@linkcode matmulUniformB} splits B into uniform views. */
export type UniformSplit = "columns" | "inner";

/**
 * The chunk plan of {@linkcode matmulUniformB}: with `transB`, views hold whole rows of the
 * stored B ([N, K]), so each dispatch owns a range of C's columns; otherwise views hold rows of B
 * ([K, N]), a range of the inner dimension, and dispatches add into C.
 */
export function matmulUniformPlan(s: MatmulShape, maxUniformFloats: number): ChunkPlan | null {
  return s.transB
    ? uniformChunks(s.N, s.K, maxUniformFloats)
    : uniformChunks(s.K, s.N, maxUniformFloats);
}

/**
 * The chunk plan of A for {@linkcode matmulUniformB} when A is read through views too: rows of A
 * (each dispatch a range of C's rows, crossed with B's chunks), or with `transA` rows of the
 * stored A ([K, M]), a range of the inner dimension chunked like B (then `plan` is B's, re-cut to
 * match). Null when a row does not fit a view.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmulViewPlans } from "./linear.ts";
 * const forward = matmulViewPlans({ M: 256, N: 120, K: 400, transB: true }, 16384)!;
 * assert.deepEqual([forward.aPlan.chunks.length, forward.plan.chunks.length], [7, 3]);
 * const weight = matmulViewPlans({ M: 120, N: 400, K: 256, transA: true }, 16384)!;
 * assert.equal(weight.aPlan.images, weight.plan.images); // 40 rows of dy and of x per chunk
 * ```
 */
export function matmulViewPlans(
  s: MatmulShape,
  maxUniformFloats: number,
): { plan: ChunkPlan; aPlan: ChunkPlan } | null {
  const plan = matmulUniformPlan(s, maxUniformFloats);
  if (!plan) return null;
  if (!s.transA) {
    const aPlan = uniformChunks(s.M, s.K, maxUniformFloats);
    return aPlan && { plan, aPlan };
  }
  if (s.transB) return null;
  const a = uniformChunks(s.K, s.M, maxUniformFloats);
  if (!a) return null;
  const rows = Math.min(a.images, plan.images);
  return {
    plan: uniformChunks(s.K, s.N, maxUniformFloats, rows)!,
    aPlan: uniformChunks(s.K, s.M, maxUniformFloats, rows)!,
  };
}

/**
 * C = A'·B' (+ bias) with B read through uniform views (far cheaper than storage reads on CPU
 * adapters): one dispatch per chunk of the plan. Each invocation owns `tileM` rows of C (default 1)
 * and `tileN` columns (required here): every A' element it loads feeds `tileN` multiply-adds and
 * every B element `tileM`.
 * Bindings: a, the uniform view of b, the chunk constants (`first`, `count`, `base`),
 * [bias source (storage) when `biasOffset` is set,] [gate,] c. With `aPlan` (see
 * {@linkcode matmulViewPlans}) A is a view too: a becomes its view and constants (`achunk`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matmulUniformB, matmulUniformPlan } from "./linear.ts";
 * const shape = { M: 256, N: 120, K: 400, transB: true, biasOffset: 48000 };
 * const k = matmulUniformB({ ...shape, tileN: 20 }, matmulUniformPlan(shape, 16384)!);
 * assert.match(k.name, /views of 40 tile 1x20/);
 * ```
 */
export function matmulUniformB(s: MatmulShape, plan: ChunkPlan, aPlan?: ChunkPlan): KernelSpec {
  const { M, N, K } = s;
  const byColumns = !!s.transB;
  const cols = byColumns ? plan.images : N;
  if (s.tileN === undefined) throw new RangeError("matmulUniformB: tileN is required");
  // A through views: by rows of C (a dispatch per pair of chunks), or along K beside B.
  const aRows = aPlan !== undefined && !s.transA;
  const aInner = aPlan !== undefined && !!s.transA;
  if (aInner && (byColumns || aPlan.images !== plan.images)) {
    throw new RangeError("matmulUniformB: A viewed along K must be chunked like B");
  }
  const rows = aRows ? aPlan.images : M; // rows of C one dispatch covers
  const TN = Math.min(s.tileN, cols);
  const TM = Math.min(s.tileM ?? 1, rows);
  const NT = ceilDiv(cols, TN), MT = ceilDiv(rows, TM);
  const lanes = MT * NT;
  const cOff = s.cOffset ?? 0;
  const limit = byColumns ? "chunk.count" : u32(N);
  const col = (t: number) => `min(n0 + ${u32(t)}, ${limit} - 1u)`;
  // Rows past M or past the chunk's (a ragged last tile) read the last row and store nothing.
  const row = (r: number) =>
    aRows
      ? `min(m0 + ${u32(r)}, achunk.count - 1u)`
      : M % TM === 0
      ? `m0 + ${u32(r)}`
      : `min(m0 + ${u32(r)}, ${u32(M - 1)})`;
  const first = aRows ? "achunk.first + " : "";
  const aAt = (r: number) =>
    aRows
      ? `A(achunk.base + (${row(r)}) * ${u32(K)} + k)`
      : aInner
      ? `A(achunk.base + kk * ${u32(M)} + ${row(r)})`
      : s.transA
      ? `a[k * ${u32(M)} + ${row(r)}]`
      : `a[(${row(r)}) * ${u32(K)} + k]`;
  const bAt = (t: number) =>
    byColumns
      ? `B(chunk.base + ${col(t)} * ${u32(K)} + kk)`
      : `B(chunk.base + kk * ${u32(N)} + ${col(t)})`;
  const outCol = (t: number) => (byColumns ? `chunk.first + n0 + ${u32(t)}` : `n0 + ${u32(t)}`);
  const bias = (t: number) =>
    s.biasOffset === undefined ? "0.0" : `bias[${u32(s.biasOffset)} + ${outCol(t)}]`;
  const tiles = Array.from({ length: TM * TN }, (_, i) => [Math.floor(i / TN), i % TN]);
  const init = ([r, t]: number[]) =>
    byColumns ? `  var acc${r}_${t} = ${bias(t)};` : `  var acc${r}_${t} = ${bias(t)};
  if (chunk.first != 0u) { acc${r}_${t} = c[${u32(cOff)} + (${first}${row(r)}) * ${u32(N)} + min(${
      outCol(t)
    }, ${u32(N - 1)})]; }`;
  return {
    name: `${label("matmul_uniform_b", s)} views of ${plan.images}${
      aPlan ? ` and of A (${aPlan.images})` : ""
    } tile ${TM}x${TN}`,
    helpers: viewHelpers("bu", "B") + (aPlan ? "\n" + viewAccessor("au", "A") : ""),
    bindings: [
      ...(aPlan
        ? viewBindings("au", aPlan, "achunk")
        : [{ name: "a", type: "array<f32>", access: "read" as const }]),
      ...viewBindings("bu", plan),
      ...(s.biasOffset === undefined
        ? []
        : [{ name: "bias", type: "array<f32>", access: "read" as const }]),
      ...gateBinding(s),
      { name: "c", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: 64,
    workgroupCount: ceilDiv(lanes, 64),
    body: `
  if (i >= ${u32(lanes)}) { return; }
  let m0 = (i % ${u32(MT)}) * ${u32(TM)};
  let n0 = (i / ${u32(MT)}) * ${u32(TN)};
  if (${aRows ? anyOf(`n0 >= ${limit}`, "m0 >= achunk.count") : `n0 >= ${limit}`}) { return; }
${tiles.map(init).join("\n")}
  let last = chunk.first + chunk.count == ${u32(byColumns ? N : K)};
  for (var kk = 0u; kk < ${byColumns ? u32(K) : "chunk.count"}; kk++) {
    let k = ${byColumns ? "kk" : "chunk.first + kk"};
${unroll(TM, (r) => `    let a${r} = ${aAt(r)};`)}
${unroll(TN, (t) => `    let b${t} = ${bAt(t)};`)}
${tiles.map(([r, t]) => `    acc${r}_${t} += a${r} * b${t};`).join("\n")}
  }
${
      tiles.map(([r, t]) => {
        const at = `(${first}m0 + ${u32(r)}) * ${u32(N)} + ${outCol(t)}`;
        // Along the inner dimension, the epilogue applies once the last chunk is added in.
        const value = byColumns || !(s.activation || s.gate)
          ? epilogue(s, `acc${r}_${t}`, at)
          : `select(acc${r}_${t}, ${epilogue(s, `acc${r}_${t}`, at)}, last)`;
        const rowGuard = aRows
          ? `m0 + ${u32(r)} < achunk.count`
          : M % TM
          ? `m0 + ${u32(r)} < ${u32(M)}`
          : "";
        const guard = allOf(...[`n0 + ${u32(t)} < ${limit}`, rowGuard].filter(Boolean));
        return `  if (${guard}) { c[${u32(cOff)} + ${at}] = ${value}; }`;
      }).join("\n")
    }`,
  };
}
