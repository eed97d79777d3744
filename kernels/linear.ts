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
import { ceilDiv, type KernelSpec, u32, unroll } from "./spec.ts";

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
  /** Tile rows per invocation. Default 4. */
  tileM?: number;
  /** Tile columns per invocation. Default 8 (fewer when N is small). */
  tileN?: number;
}

const WG = 64;

/**
 * C = A'·B' (+ bias). Bindings: a, b, c.
 *
 * @example
 * ```ts
 * import { matmul } from "./linear.ts";
 * // Linear(400 → 120) forward on a batch of 256, bias stored after the weights.
 * const k = matmul({ M: 256, N: 120, K: 400, transB: true, biasOffset: 120 * 400 });
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
    const bias = s.biasOffset === undefined ? "" : ` + b[${u32(s.biasOffset)} + n0 + ${u32(c)}]`;
    const guard = [
      M % TM ? `m0 + ${u32(r)} < ${u32(M)}` : "",
      N % TN ? `n0 + ${u32(c)} < ${u32(N)}` : "",
    ].filter(Boolean).join(" && ");
    const write = `c[${u32(cOff)} + (m0 + ${u32(r)}) * ${u32(N)} + n0 + ${
      u32(c)
    }] = acc${r}_${c}${bias};`;
    return guard ? `  if (${guard}) { ${write} }` : `  ${write}`;
  };
  const tiles = Array.from({ length: TM * TN }, (_, t) => [Math.floor(t / TN), t % TN]);
  return {
    key: `matmul:m${M}:n${N}:k${K}:ta${!!s.transA}:tb${!!s.transB}:bo${bOff}:bias${s.biasOffset}` +
      `:co${cOff}:t${TM}x${TN}`,
    bindings: [
      { name: "a", type: "array<f32>", access: "read" },
      { name: "b", type: "array<f32>", access: "read" },
      { name: "c", type: "array<f32>", access: "read_write" },
    ],
    workgroupSize: WG,
    workgroupCount: NT * rowGroups,
    body: `
  let n0 = (wg / ${u32(rowGroups)}) * ${u32(TN)};
  let mt = (wg % ${u32(rowGroups)}) * WORKGROUP_SIZE + lidx;
  if (mt >= ${u32(MT)}) { return; }
  let m0 = mt * ${u32(TM)};
${tiles.map(([r, c]) => `  var acc${r}_${c} = 0.0;`).join("\n")}
  for (var k = 0u; k < ${u32(K)}; k++) {
${unroll(TM, (r) => `    let a${r} = ${aAt(r)};`)}
${unroll(TN, (c) => `    let b${c} = ${bAt(c)};`)}
${tiles.map(([r, c]) => `    acc${r}_${c} += a${r} * b${c};`).join("\n")}
  }
${tiles.map(([r, c]) => store(r, c)).join("\n")}`,
  };
}
