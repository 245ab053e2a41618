// Plain reference math for the press tests: RoPE (HF rotate_half), projections, softmax, pooling, GQA means.
import { row3, type LayerInputs, type RopeStyle } from './layer-inputs.js';

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** inv_freq θ_i = base^(−2i/d), i < d/2. */
export function inverseFrequencies(d: number, theta: number): Float64Array {
  const out = new Float64Array(d / 2);
  for (let i = 0; i < d / 2; i++) out[i] = Math.pow(theta, (-2 * i) / d);
  return out;
}

/** The channel pairs RoPE rotates together with frequency θ_i: (i, i + d/2) half-split, (2i, 2i + 1) interleaved. */
export function ropePairs(d: number, style: RopeStyle = 'half-split'): [number, number][] {
  return Array.from({ length: d / 2 }, (_x, i) => (style === 'half-split' ? [i, i + d / 2] : [2 * i, 2 * i + 1]));
}

/**
 * RoPE at `position` (HF half-split: x ⊙ cos(pθ) + rotate_half(x) ⊙ sin(pθ), rotate_half([x1, x2]) = [−x2, x1];
 * interleaved: the same rotation on adjacent pairs).
 */
export function rope(x: ArrayLike<number>, position: number, theta: number, style: RopeStyle = 'half-split'): Float64Array {
  const d = x.length;
  const inv = inverseFrequencies(d, theta);
  const out = new Float64Array(d);
  ropePairs(d, style).forEach(([a, b], i) => {
    const c = Math.cos(position * inv[i]);
    const s = Math.sin(position * inv[i]);
    out[a] = x[a] * c - x[b] * s;
    out[b] = x[b] * c + x[a] * s;
  });
  return out;
}

/** Per-head projection of X rows (optionally qwen3 per-head RMSNorm): [heads][rows][d]. */
export function project(
  inputs: LayerInputs,
  weight: Float32Array,
  heads: number,
  firstRow: number,
  rows: number,
  headNorm?: Float32Array,
): Float64Array[][] {
  const { hidden: D, headDim: d, rmsEps } = inputs.config;
  const out: Float64Array[][] = [];
  for (let h = 0; h < heads; h++) {
    const perHead: Float64Array[] = [];
    for (let r = 0; r < rows; r++) {
      const v = new Float64Array(d);
      for (let c = 0; c < d; c++) {
        let s = 0;
        for (let i = 0; i < D; i++) s += weight[(h * d + c) * D + i] * inputs.hidden[(firstRow + r) * D + i];
        v[c] = s;
      }
      if (headNorm) {
        const scale = 1 / Math.sqrt(dot(v, v) / d + rmsEps);
        for (let c = 0; c < d; c++) v[c] = v[c] * scale * headNorm[c];
      }
      perHead.push(v);
    }
    out.push(perHead);
  }
  return out;
}

export function preropeQueries(inputs: LayerInputs, firstRow: number, rows: number): Float64Array[][] {
  return project(inputs, inputs.weights.wq, inputs.config.nHeads, firstRow, rows, inputs.weights.qNorm);
}

export function preropeKeys(inputs: LayerInputs, firstRow: number, rows: number): Float64Array[][] {
  return project(inputs, inputs.weights.wk, inputs.config.nKvHeads, firstRow, rows, inputs.weights.kNorm);
}

export function key(inputs: LayerInputs, h: number, t: number): Float64Array {
  return row3(inputs.keys, inputs.n, inputs.config.headDim, h, t);
}

export function value(inputs: LayerInputs, h: number, t: number): Float64Array {
  return row3(inputs.values, inputs.n, inputs.config.headDim, h, t);
}

export function softmax(xs: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, xs[i]);
  const out = new Float64Array(xs.length);
  let s = 0;
  for (let i = 0; i < xs.length; i++) {
    out[i] = Math.exp(xs[i] - m);
    s += out[i];
  }
  for (let i = 0; i < xs.length; i++) out[i] /= s;
  return out;
}

/**
 * kvpress window_attention: the last `w` rows of X as RoPE'd queries against all n keys, causal, softmax
 * over n, first n − w columns kept → [H][w][n − w].
 */
export function windowAttention(inputs: LayerInputs, w: number): Float64Array[][] {
  const { nHeads: H, nKvHeads: Hk, headDim: d, ropeTheta } = inputs.config;
  const { n, q } = inputs;
  const g = H / Hk;
  const queries = preropeQueries(inputs, q - w, w);
  const out: Float64Array[][] = [];
  for (let h = 0; h < H; h++) {
    const rows: Float64Array[] = [];
    for (let i = 0; i < w; i++) {
      const position = n - w + i;
      const qv = rope(queries[h][i], position, ropeTheta, inputs.config.ropeStyle);
      const logits = new Float64Array(n);
      for (let j = 0; j < n; j++) logits[j] = j <= position ? dot(qv, key(inputs, Math.floor(h / g), j)) / Math.sqrt(d) : -Infinity;
      rows.push(softmax(logits).slice(0, n - w));
    }
    out.push(rows);
  }
  return out;
}

/** 1-D average pooling, stride 1, zero padding k//2 counted in the denominator (torch avg_pool1d default). */
export function avgPool(xs: ArrayLike<number>, kernel: number): Float64Array {
  const pad = Math.floor(kernel / 2);
  const out = new Float64Array(xs.length);
  for (let t = 0; t < xs.length; t++) {
    let s = 0;
    for (let k = -pad; k <= pad; k++) if (t + k >= 0 && t + k < xs.length) s += xs[t + k];
    out[t] = s / kernel;
  }
  return out;
}

/** mean_g: [H][len] → [Hk][len], averaging the g query heads that share a kv-head. */
export function meanOverGroups(perHead: ArrayLike<number>[], nKvHeads: number): Float64Array[] {
  const g = perHead.length / nKvHeads;
  const len = perHead[0].length;
  const out: Float64Array[] = [];
  for (let kv = 0; kv < nKvHeads; kv++) {
    const v = new Float64Array(len);
    for (let j = 0; j < g; j++) for (let t = 0; t < len; t++) v[t] += perHead[kv * g + j][t] / g;
    out.push(v);
  }
  return out;
}

/** Global max over all heads (kvpress pads protected positions with this + 1). */
export function globalMax(rows: ArrayLike<number>[]): number {
  let m = -Infinity;
  for (const r of rows) for (let i = 0; i < r.length; i++) m = Math.max(m, r[i]);
  return m;
}

/** [Hk][n] → one flat Float64Array in the native layout [Hk * n]. */
export function flatten(rows: ArrayLike<number>[]): Float64Array {
  const len = rows[0].length;
  const out = new Float64Array(rows.length * len);
  rows.forEach((r, h) => {
    for (let t = 0; t < len; t++) out[h * len + t] = r[t];
  });
  return out;
}

/** Solves A x = b (A symmetric positive definite here) by Gaussian elimination with partial pivoting. */
export function solve(A: Float64Array[], b: ArrayLike<number>): Float64Array {
  const m = A.length;
  const M = A.map((row, i) => {
    const r = new Float64Array(m + 1);
    r.set(row);
    r[m] = b[i];
    return r;
  });
  for (let c = 0; c < m; c++) {
    let p = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < m; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= m; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Float64Array(m);
  for (let r = m - 1; r >= 0; r--) {
    let s = M[r][m];
    for (let k = r + 1; k < m; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}
