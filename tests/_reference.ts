// Plain TypeScript (float64) references of every kernel, written for clarity, not speed.

export interface ConvDims {
  B: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  PH: number;
  PW: number;
}

export function outSize(H: number, K: number, S: number, P: number): number {
  return Math.floor((H + 2 * P - K) / S) + 1;
}

type Arr = ArrayLike<number>;

/** Calls f(b, o, c, oy, ox, ky, kx, xIndex, yIndex, wIndex) for every tap inside the image. */
function convTaps(
  d: ConvDims,
  f: (xi: number, yi: number, wi: number, b: number, o: number) => void,
): void {
  const OH = outSize(d.H, d.KH, d.SH, d.PH), OW = outSize(d.W, d.KW, d.SW, d.PW);
  for (let b = 0; b < d.B; b++) {
    for (let o = 0; o < d.O; o++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const yi = ((b * d.O + o) * OH + oy) * OW + ox;
          for (let c = 0; c < d.C; c++) {
            for (let ky = 0; ky < d.KH; ky++) {
              const iy = oy * d.SH + ky - d.PH;
              if (iy < 0 || iy >= d.H) continue;
              for (let kx = 0; kx < d.KW; kx++) {
                const ix = ox * d.SW + kx - d.PW;
                if (ix < 0 || ix >= d.W) continue;
                f(
                  ((b * d.C + c) * d.H + iy) * d.W + ix,
                  yi,
                  ((o * d.C + c) * d.KH + ky) * d.KW + kx,
                  b,
                  o,
                );
              }
            }
          }
        }
      }
    }
  }
}

export function conv2d(d: ConvDims, x: Arr, w: Arr, bias: Arr): Float64Array {
  const OH = outSize(d.H, d.KH, d.SH, d.PH), OW = outSize(d.W, d.KW, d.SW, d.PW);
  const y = new Float64Array(d.B * d.O * OH * OW);
  for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / (OH * OW)) % d.O];
  convTaps(d, (xi, yi, wi) => y[yi] += x[xi] * w[wi]);
  return y;
}

export function conv2dBackward(d: ConvDims, x: Arr, w: Arr, dy: Arr) {
  const OH = outSize(d.H, d.KH, d.SH, d.PH), OW = outSize(d.W, d.KW, d.SW, d.PW);
  const dx = new Float64Array(d.B * d.C * d.H * d.W);
  const dw = new Float64Array(d.O * d.C * d.KH * d.KW);
  const db = new Float64Array(d.O);
  convTaps(d, (xi, yi, wi) => {
    dx[xi] += dy[yi] * w[wi];
    dw[wi] += dy[yi] * x[xi];
  });
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / (OH * OW)) % d.O] += dy[i];
  return { dx, dw, db };
}

export interface PoolDims {
  B: number;
  C: number;
  H: number;
  W: number;
  K: number;
  S: number;
  P: number;
}

export function pool(kind: "avg" | "max", d: PoolDims, x: Arr) {
  const OH = outSize(d.H, d.K, d.S, d.P), OW = outSize(d.W, d.K, d.S, d.P);
  const y = new Float64Array(d.B * d.C * OH * OW), idx = new Int32Array(y.length);
  for (let bc = 0; bc < d.B * d.C; bc++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let acc = kind === "max" ? -Infinity : 0, arg = -1;
        for (let ky = 0; ky < d.K; ky++) {
          for (let kx = 0; kx < d.K; kx++) {
            const iy = oy * d.S + ky - d.P, ix = ox * d.S + kx - d.P;
            if (iy < 0 || iy >= d.H || ix < 0 || ix >= d.W) continue;
            const v = x[(bc * d.H + iy) * d.W + ix];
            if (kind === "avg") acc += v;
            else if (v > acc) [acc, arg] = [v, iy * d.W + ix];
          }
        }
        const o = (bc * OH + oy) * OW + ox;
        y[o] = kind === "avg" ? acc / (d.K * d.K) : acc;
        idx[o] = arg;
      }
    }
  }
  return { y, idx };
}

export function poolBackward(kind: "avg" | "max", d: PoolDims, x: Arr, dy: Arr): Float64Array {
  const OH = outSize(d.H, d.K, d.S, d.P), OW = outSize(d.W, d.K, d.S, d.P);
  const { idx } = pool(kind, d, x);
  const dx = new Float64Array(d.B * d.C * d.H * d.W);
  for (let bc = 0; bc < d.B * d.C; bc++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const o = (bc * OH + oy) * OW + ox;
        if (kind === "max") {
          dx[bc * d.H * d.W + idx[o]] += dy[o];
          continue;
        }
        for (let ky = 0; ky < d.K; ky++) {
          for (let kx = 0; kx < d.K; kx++) {
            const iy = oy * d.S + ky - d.P, ix = ox * d.S + kx - d.P;
            if (iy < 0 || iy >= d.H || ix < 0 || ix >= d.W) continue;
            dx[(bc * d.H + iy) * d.W + ix] += dy[o] / (d.K * d.K);
          }
        }
      }
    }
  }
  return dx;
}

/** C[M,N] = A'·B'; A stored [M,K] (or [K,M] when transA), B stored [K,N] (or [N,K]). */
export function matmul(
  A: Arr,
  B: Arr,
  M: number,
  N: number,
  K: number,
  transA = false,
  transB = false,
): Float64Array {
  const C = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += (transA ? A[k * M + m] : A[m * K + k]) * (transB ? B[n * K + k] : B[k * N + n]);
      }
      C[m * N + n] = s;
    }
  }
  return C;
}

export function softmaxCrossEntropy(z: Arr, labels: ArrayLike<number>, B: number, K: number) {
  const rowLoss = new Float64Array(B), correct = new Float64Array(B), dz = new Float64Array(B * K);
  for (let b = 0; b < B; b++) {
    const row = Array.from({ length: K }, (_, k) => z[b * K + k]);
    const top = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - top), 0);
    rowLoss[b] = top + Math.log(sum) - row[labels[b]];
    correct[b] = row.indexOf(top) === labels[b] ? 1 : 0;
    for (let k = 0; k < K; k++) {
      dz[b * K + k] = (Math.exp(row[k] - top) / sum - (k === labels[b] ? 1 : 0)) / B;
    }
  }
  return { rowLoss, correct, dz };
}

export const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** erf in double precision: its Taylor series below 3, erfc's continued fraction above. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (Number.isNaN(x)) return NaN;
  if (a < 3) {
    let term = a, sum = a;
    for (let n = 1; n < 100; n++) {
      term *= -a * a / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * sum * 2 / Math.sqrt(Math.PI);
  }
  // erfc(a) = e^(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))), evaluated from the tail.
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + (k / 2) / f;
  return Math.sign(x) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f);
}

/** Each activation and its derivative with respect to its input, in double precision. */
export const ACTIVATION_REFERENCE: Record<
  string,
  { f: (x: number) => number; df: (x: number) => number }
> = {
  sigmoid: { f: sigmoid, df: (x) => sigmoid(x) * (1 - sigmoid(x)) },
  relu: { f: (x) => (x > 0 ? x : 0), df: (x) => (x > 0 ? 1 : 0) },
  tanh: { f: Math.tanh, df: (x) => 1 - Math.tanh(x) ** 2 },
  gelu: {
    f: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
    df: (x) => 0.5 * (1 + erf(x / Math.SQRT2)) + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI),
  },
  silu: { f: (x) => x * sigmoid(x), df: (x) => sigmoid(x) * (1 + x * (1 - sigmoid(x))) },
  leaky_relu: { f: (x) => (x > 0 ? x : 0.01 * x), df: (x) => (x > 0 ? 1 : 0.01) },
};

/**
 * A batch as the device gather must assemble it: the images `order[start .. start + batch)`,
 * scaled to [0, 1], resized bilinearly with half-pixel centres and edge clamping (PyTorch's
 * `interpolate(mode="bilinear", align_corners=False)`) when the size differs.
 */
export function gather(
  s: { rows: number; cols: number; images: Uint8Array; labels: Uint8Array },
  order: ArrayLike<number>,
  start: number,
  batch: number,
  dstH: number,
  dstW: number,
): { images: Float64Array; labels: number[] } {
  const axis = (src: number, dst: number, d: number) => {
    const at = Math.max((d + 0.5) * (src / dst) - 0.5, 0);
    const lo = Math.min(Math.floor(at), src - 1);
    return [lo, Math.min(lo + 1, src - 1), at - lo];
  };
  const images = new Float64Array(batch * dstH * dstW);
  const labels: number[] = [];
  for (let b = 0; b < batch; b++) {
    const item = order[start + b];
    labels.push(s.labels[item]);
    const px = (y: number, x: number) => s.images[item * s.rows * s.cols + y * s.cols + x];
    for (let y = 0; y < dstH; y++) {
      const [y0, y1, wy] = axis(s.rows, dstH, y);
      for (let x = 0; x < dstW; x++) {
        const [x0, x1, wx] = axis(s.cols, dstW, x);
        const top = px(y0, x0) + (px(y0, x1) - px(y0, x0)) * wx;
        const bottom = px(y1, x0) + (px(y1, x1) - px(y1, x0)) * wx;
        images[(b * dstH + y) * dstW + x] = (top + (bottom - top) * wy) / 255;
      }
    }
  }
  return { images, labels };
}
