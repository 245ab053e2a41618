// Reference scores of the Compactor family (spec §2.7) and KVzap (§2.15).
import type { LayerInputs } from './layer-inputs.js';
import { avgPool, dot, key, meanOverGroups, norm, preropeKeys, preropeQueries, rope, softmax, solve, value } from './math.js';

type Rows = Float64Array[];

/** z-score with the mean and unbiased std of every entry of every row (std clamped ≥ 1e−6). */
export function globalZScore(rows: Rows): Rows {
  const all = rows.flatMap((r) => Array.from(r));
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const sd = Math.max(1e-6, Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / (all.length - 1)));
  return rows.map((r) => r.map((x) => (x - mean) / sd));
}

/**
 * NonCausalAttn on slots [from, to) (queries from the same X rows, RoPE'd at their positions): tiles of `chunk`,
 * non-causal, no 1/√d, padded key columns logit −1e−9 and padded query rows all-zero logits (kvpress's quirk).
 */
export function nonCausalScores(inputs: LayerInputs, chunk: number, from = 0, to = inputs.n): Rows {
  const { nHeads: H, nKvHeads: Hk, ropeTheta } = inputs.config;
  const g = H / Hk;
  const len = to - from;
  const Q = preropeQueries(inputs, from, len);
  const perHead: Rows = [];
  for (let h = 0; h < H; h++) {
    const sums = new Float64Array(len);
    const queries = Q[h].map((q, i) => rope(q, from + i, ropeTheta, inputs.config.ropeStyle));
    for (let start = 0; start < len; start += chunk) {
      const real = Math.min(chunk, len - start);
      for (let i = 0; i < chunk; i++) {
        const logits = new Float64Array(chunk);
        for (let j = 0; j < chunk; j++) {
          if (i >= real) logits[j] = 0;
          else if (j >= real) logits[j] = -1e-9;
          else logits[j] = dot(queries[start + i], key(inputs, Math.floor(h / g), from + start + j));
        }
        const p = softmax(logits);
        for (let j = 0; j < real; j++) sums[start + j] += p[j];
      }
    }
    perHead.push(sums);
  }
  const grouped = meanOverGroups(perHead, Hk).map((r, kv) => avgPool(r.map((x, t) => x * norm(value(inputs, kv, from + t))), 3));
  return globalZScore(grouped);
}

/**
 * LeverageScore without the random sketch: for a Gaussian sketch of at least d columns, y_tᵀ(YᵀY)⁺y_t equals
 * the hat-matrix diagonal x_tᵀ(XᵀX)⁻¹x_t of the centred pre-RoPE keys, so the z-scores must match it.
 */
export function leverageHatScores(inputs: LayerInputs, from = 0, to = inputs.n): Rows {
  const d = inputs.config.headDim;
  const len = to - from;
  const K = preropeKeys(inputs, from, len);
  return globalZScore(
    K.map((rows) => {
      const mean = new Float64Array(d);
      for (const r of rows) for (let c = 0; c < d; c++) mean[c] += r[c] / len;
      const centred = rows.map((r) => r.map((x, c) => x - mean[c]));
      const gram = Array.from({ length: d }, (_x, a) => Float64Array.from({ length: d }, (_y, b) => centred.reduce((s, r) => s + r[a] * r[b], 0)));
      return Float64Array.from(centred, (x) => Math.max(0, dot(x, solve(gram, x))));
    }),
  );
}

/** Compactor: β·z_leverage + z_noncausal on the middle slice, both ends padded with the max (no +1). */
export function compactorScores(inputs: LayerInputs, p: { sinkSizeStart: number; sinkSizeEnd: number; chunkSize: number; blending: number }): Rows {
  const n = inputs.n;
  const left = Math.min(p.sinkSizeStart, n);
  const right = Math.min(p.sinkSizeEnd, n - left);
  const lev = leverageHatScores(inputs, left, n - right);
  const nc = nonCausalScores(inputs, p.chunkSize, left, n - right);
  const mid = lev.map((r, h) => r.map((x, t) => p.blending * x + nc[h][t]));
  let max = -Infinity;
  for (const r of mid) for (const x of r) max = Math.max(max, x);
  return mid.map((r) => {
    const out = new Float64Array(n).fill(max);
    out.set(r, left);
    return out;
  });
}

function erf(x: number): number {
  // Maclaurin series (exact enough for |x| ≤ 5, where erf is 1 to 1e-11 beyond).
  if (Math.abs(x) > 5) return Math.sign(x);
  let sum = x;
  let term = x;
  for (let k = 1; k < 80; k++) {
    term *= (-x * x) / k;
    sum += term / (2 * k + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export interface KVzapLayer {
  w1: Float32Array; // [O, D]
  b1: Float32Array; // [O]
  w2?: Float32Array; // [Hk, O]
  b2?: Float32Array; // [Hk]
}

/** KVzap: per token x_t, linear W1 x + b1 (O = Hk), or W2·GELU(W1 x + b1) + b2. */
export function kvzapScores(inputs: LayerInputs, layer: KVzapLayer): Rows {
  const { hidden: D, nKvHeads: Hk } = inputs.config;
  const O = layer.b1.length;
  return Array.from({ length: Hk }, (_x, h) =>
    Float64Array.from({ length: inputs.n }, (_y, t) => {
      const mid = Float64Array.from({ length: O }, (_z, o) => {
        let s = layer.b1[o];
        for (let i = 0; i < D; i++) s += layer.w1[o * D + i] * inputs.hidden[t * D + i];
        return layer.w2 ? gelu(s) : s;
      });
      if (!layer.w2) return mid[h];
      let s = layer.b2![h];
      for (let o = 0; o < O; o++) s += layer.w2[h * O + o] * mid[o];
      return s;
    }),
  );
}
