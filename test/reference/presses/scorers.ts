// Reference scores of the kvpress scorers (shared/reference/kvpress-spec.md §2.2–2.8), written from the spec's
// formulas as plain loops. Each returns [Hk][n] scores, higher = keep.
import type { LayerInputs, RopeStyle } from './layer-inputs.js';
import {
  avgPool, dot, globalMax, inverseFrequencies, key, meanOverGroups, norm, preropeQueries, ropePairs, softmax, solve, value, windowAttention,
} from './math.js';

type Rows = Float64Array[];

function perKvHead(inputs: LayerInputs, f: (h: number, t: number) => number): Rows {
  const out: Rows = [];
  for (let h = 0; h < inputs.config.nKvHeads; h++) {
    const row = new Float64Array(inputs.n);
    for (let t = 0; t < inputs.n; t++) row[t] = f(h, t);
    out.push(row);
  }
  return out;
}

export function knormScores(inputs: LayerInputs): Rows {
  return perKvHead(inputs, (h, t) => -norm(key(inputs, h, t)));
}

export function keyDiffScores(inputs: LayerInputs): Rows {
  const d = inputs.config.headDim;
  return perKvHead(inputs, (h, t) => {
    const anchor = new Float64Array(d);
    for (let s = 0; s < inputs.n; s++) {
      const k = key(inputs, h, s);
      const kn = norm(k);
      for (let c = 0; c < d; c++) anchor[c] += k[c] / kn / inputs.n;
    }
    const k = key(inputs, h, t);
    return -dot(k, anchor) / (norm(k) * norm(anchor));
  });
}

export function streamingLLMScores(inputs: LayerInputs, ratio: number, nSink: number): Rows {
  const n = inputs.n;
  const pruned = n - Math.floor(n * (1 - ratio));
  return perKvHead(inputs, (_h, t) => (t >= nSink && t < nSink + pruned ? 0 : 1));
}

/** QFilter: −⟨f_{l,h}, K_t⟩ with filters [L][Hk][d]. */
export function qFilterScores(inputs: LayerInputs, filters: Float32Array): Rows {
  const { nKvHeads: Hk, headDim: d } = inputs.config;
  return perKvHead(inputs, (h, t) => {
    const f = filters.subarray((inputs.layer * Hk + h) * d, (inputs.layer * Hk + h + 1) * d);
    return -dot(f, key(inputs, h, t));
  });
}

/** Appends `count` protected positions with global max + 1 (after = true) or prepends them. */
function protect(rows: Rows, count: number, after: boolean, plusOne = 1): Rows {
  const m = globalMax(rows) + plusOne;
  return rows.map((r) => {
    const out = new Float64Array(r.length + count);
    if (after) {
      out.set(r, 0);
      out.fill(m, r.length);
    } else {
      out.fill(m, 0, count);
      out.set(r, count);
    }
    return out;
  });
}

export function snapKVScores(inputs: LayerInputs, windowSize: number, kernelSize: number): Rows {
  const A = windowAttention(inputs, windowSize);
  const pooled = A.map((rows) => {
    const mean = new Float64Array(inputs.n - windowSize);
    for (const r of rows) for (let t = 0; t < mean.length; t++) mean[t] += r[t] / windowSize;
    return avgPool(mean, kernelSize);
  });
  return protect(meanOverGroups(pooled, inputs.config.nKvHeads), windowSize, true);
}

export function tovaScores(inputs: LayerInputs): Rows {
  const A = windowAttention(inputs, 1);
  const mean = new Float64Array(inputs.n - 1);
  for (const rows of A) for (let t = 0; t < mean.length; t++) mean[t] += rows[0][t] / A.length;
  const rows: Rows = [];
  for (let h = 0; h < inputs.config.nKvHeads; h++) rows.push(Float64Array.from(mean));
  return protect(rows, 1, true);
}

/** ObservedAttention with q = n: S_{h,j} = Σ_i A_{h,i,j} / (n − j), then mean_g. */
export function observedAttentionScores(inputs: LayerInputs): Rows {
  const { nHeads: H, nKvHeads: Hk } = inputs.config;
  const { n, q } = inputs;
  const A = inputs.attentions!;
  const perHead: Rows = [];
  for (let h = 0; h < H; h++) {
    const s = new Float64Array(n);
    for (let i = 0; i < q; i++) for (let j = 0; j < n; j++) s[j] += A[(h * q + i) * n + j];
    for (let j = 0; j < n; j++) s[j] /= n - j;
    perHead.push(s);
  }
  return meanOverGroups(perHead, Hk);
}

/** R̄ = mean over p ∈ [start, start + F) of the RoPE matrix diag(cos_p) + P·diag(sin_p) (P rotates each pair). */
export function averagedRope(d: number, theta: number, start: number, F: number, style: RopeStyle = 'half-split'): Float64Array[] {
  const inv = inverseFrequencies(d, theta);
  const R = Array.from({ length: d }, () => new Float64Array(d));
  for (let p = start; p < start + F; p++) {
    ropePairs(d, style).forEach(([a, b], i) => {
      const c = Math.cos(p * inv[i]) / F;
      const s = Math.sin(p * inv[i]) / F;
      R[a][a] += c;
      R[b][b] += c;
      R[a][b] -= s;
      R[b][a] += s;
    });
  }
  return R;
}

function matVec(M: Float64Array[], v: ArrayLike<number>): Float64Array {
  return Float64Array.from(M.map((row) => dot(row, v)));
}

export interface ExpectedAttentionParams {
  nFuturePositions: number;
  nSink: number;
  useCovariance: boolean;
  useVnorm: boolean;
  epsilon: number;
}

/** Query mean μ and biased covariance Σ (/N) of the pre-RoPE queries of X[nSink:], per query head. */
export function queryStatistics(inputs: LayerInputs, nSink: number): { mean: Float64Array[]; cov: Float64Array[][] } {
  const rows = inputs.q - nSink;
  const Q = preropeQueries(inputs, nSink, rows);
  const d = inputs.config.headDim;
  const mean: Float64Array[] = [];
  const cov: Float64Array[][] = [];
  for (const perHead of Q) {
    const mu = new Float64Array(d);
    for (const v of perHead) for (let c = 0; c < d; c++) mu[c] += v[c] / rows;
    const S = Array.from({ length: d }, () => new Float64Array(d));
    for (const v of perHead)
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) S[a][b] += ((v[a] - mu[a]) * (v[b] - mu[b])) / rows;
    mean.push(mu);
    cov.push(S);
  }
  return { mean, cov };
}

export function expectedAttentionScores(
  inputs: LayerInputs,
  p: ExpectedAttentionParams,
  stats = queryStatistics(inputs, p.nSink),
): Rows {
  const { nHeads: H, nKvHeads: Hk, headDim: d, ropeTheta } = inputs.config;
  const g = H / Hk;
  const R = averagedRope(d, ropeTheta, inputs.q, p.nFuturePositions, inputs.config.ropeStyle);
  const kept = inputs.n - p.nSink;
  const perHead: Rows = [];
  for (let h = 0; h < H; h++) {
    const mu = matVec(R, stats.mean[h]);
    // R Σ Rᵀ
    const RS = stats.cov[h].map((_, a) => Float64Array.from({ length: d }, (_x, b) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += R[a][k] * stats.cov[h][k][b];
      return s;
    }));
    const cov = RS.map((row) => Float64Array.from({ length: d }, (_x, b) => dot(row, R[b])));
    const logits = new Float64Array(kept);
    for (let t = 0; t < kept; t++) {
      const k = key(inputs, Math.floor(h / g), p.nSink + t);
      logits[t] = dot(k, mu) / Math.sqrt(d);
      if (p.useCovariance) logits[t] += dot(k, matVec(cov, k)) / (2 * d);
    }
    perHead.push(softmax(logits));
  }
  let rows = meanOverGroups(perHead, Hk);
  if (p.useVnorm) rows = rows.map((r, h) => r.map((x, t) => (x + p.epsilon) * norm(value(inputs, h, p.nSink + t))));
  return protect(rows, p.nSink, false);
}

export interface CapParams {
  tau: number;
  nFuturePositions: number;
  nSink: number;
  epsilon: number;
}

export function capScores(inputs: LayerInputs, p: CapParams): Rows {
  const { nHeads: H, nKvHeads: Hk, headDim: d, ropeTheta } = inputs.config;
  const g = H / Hk;
  const R = averagedRope(d, ropeTheta, inputs.q, p.nFuturePositions, inputs.config.ropeStyle);
  const { mean } = queryStatistics(inputs, p.nSink);
  const kept = inputs.n - p.nSink;
  const perHead: Rows = [];
  for (let h = 0; h < H; h++) {
    const anchor = matVec(R, mean[h]);
    const kv = Math.floor(h / g);
    const cosines = Float64Array.from({ length: kept }, (_x, t) => {
      const k = key(inputs, kv, p.nSink + t);
      return Math.min(1, Math.max(-1, dot(anchor, k) / (norm(anchor) * norm(k))));
    });
    const cmax = Math.max(...cosines);
    const w = cosines.map((c) => Math.exp(p.tau * (c - cmax)));
    const A = Array.from({ length: d }, (_x, a) => Float64Array.from({ length: d }, (_y, b) => (a === b ? 1 : 0)));
    for (let t = 0; t < kept; t++) {
      const v = value(inputs, kv, p.nSink + t);
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) A[a][b] += (w[t] + p.epsilon) * v[a] * v[b];
    }
    perHead.push(
      Float64Array.from({ length: kept }, (_x, t) => {
        const v = value(inputs, kv, p.nSink + t);
        return w[t] * dot(v, solve(A, v));
      }),
    );
  }
  return protect(meanOverGroups(perHead, Hk), p.nSink, false);
}

/** Unbiased standard deviation. */
function std(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m += xs[i] / xs.length;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

function lagPartitionScores(get: (t: number) => Float64Array, start: number, lag: number, d: number): Float64Array {
  const lo = new Float64Array(d).fill(Infinity);
  const hi = new Float64Array(d).fill(-Infinity);
  for (let t = start + lag; t < start + 2 * lag; t++) {
    const x = get(t);
    for (let c = 0; c < d; c++) {
      lo[c] = Math.min(lo[c], x[c]);
      hi[c] = Math.max(hi[c], x[c]);
    }
  }
  const u = Float64Array.from({ length: lag }, (_x, i) => {
    const x = get(start + i);
    return std(Float64Array.from({ length: d }, (_y, c) => (x[c] - lo[c]) / (hi[c] - lo[c])));
  });
  return softmax(u);
}

export function lagKVScores(inputs: LayerInputs, nSink: number, lagSize: number, crossScoring: boolean): Rows {
  const { n } = inputs;
  const d = inputs.config.headDim;
  if (n < nSink + 2 * lagSize) return perKvHead(inputs, (_h, t) => (t < nSink ? 1 : (t - nSink) / (n - nSink)));
  const end = nSink + Math.floor((n - nSink) / lagSize) * lagSize;
  const partitions = (end - nSink) / lagSize;
  return Array.from({ length: inputs.config.nKvHeads }, (_x, h) => {
    const row = new Float64Array(n).fill(1);
    for (let k = 0; k < partitions - 1; k++) {
      const start = nSink + k * lagSize;
      const sk = lagPartitionScores((t) => key(inputs, h, t), start, lagSize, d);
      const sv = lagPartitionScores((t) => value(inputs, h, t), start, lagSize, d);
      let s = sk.map((x, i) => (x + sv[i]) / 2);
      if (!crossScoring) {
        const order = Array.from(s.keys()).sort((a, b) => s[a] - s[b]);
        const rank = new Float64Array(lagSize);
        order.forEach((idx, r) => (rank[idx] = r / lagSize));
        s = rank;
      }
      row.set(s, start);
    }
    return row;
  });
}

/** CURPress without random projection: local-window normalised ‖K‖², ‖V‖², combined, normalised, sinks = 1. */
export function curScores(
  inputs: LayerInputs,
  p: { numSinks: number; leverageType: 'key' | 'value' | 'kv_avg' | 'kv_product'; useLocalApproximation: boolean; localWindowSize: number },
): Rows {
  const n = inputs.n;
  return Array.from({ length: inputs.config.nKvHeads }, (_x, h) => {
    const local = (xs: Float64Array) => {
      if (!p.useLocalApproximation) return xs;
      const w = p.localWindowSize;
      const out = new Float64Array(n);
      for (let s = 0; s < n; s += w) {
        let sum = 0;
        for (let t = s; t < Math.min(n, s + w); t++) sum += xs[t];
        for (let t = s; t < Math.min(n, s + w); t++) out[t] = xs[t] / sum;
      }
      return out;
    };
    const k2 = local(Float64Array.from({ length: n }, (_y, t) => dot(key(inputs, h, t), key(inputs, h, t))));
    const v2 = local(Float64Array.from({ length: n }, (_y, t) => dot(value(inputs, h, t), value(inputs, h, t))));
    const combined = k2.map((k, t) =>
      p.leverageType === 'key' ? k : p.leverageType === 'value' ? v2[t] : p.leverageType === 'kv_avg' ? (k + v2[t]) / 2 : k * v2[t],
    );
    const total = combined.reduce((a, b) => a + b, 0);
    const out = combined.map((x) => x / total);
    out.fill(1, 0, Math.min(p.numSinks, n));
    return out;
  });
}
