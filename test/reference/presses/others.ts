// Reference behaviour of the non-scorer presses (spec §2.3 Finch / SimLayerKV / ThinK, §2.11 DuoAttention).
import type { LayerInputs } from './layer-inputs.js';
import { globalMax, key, meanOverGroups, preropeQueries, rope, windowAttention } from './math.js';

/** Finch scores: window-query attention (rows × absolute position when normalising), mean, mean_g, window max+1. */
export function finchScores(inputs: LayerInputs, windowSize: number, normalize: boolean): Float64Array[] {
  const w = windowSize;
  const n = inputs.n;
  const A = windowAttention(inputs, w);
  const perHead = A.map((rows) => {
    const mean = new Float64Array(n - w);
    rows.forEach((r, i) => {
      const factor = normalize ? n - w + i : 1;
      for (let t = 0; t < n - w; t++) mean[t] += (r[t] * factor) / w;
    });
    return mean;
  });
  const grouped = meanOverGroups(perHead, inputs.config.nKvHeads);
  const m = globalMax(grouped) + 1;
  return grouped.map((r) => {
    const out = new Float64Array(n).fill(m);
    out.set(r, 0);
    return out;
  });
}

/** ThinK: per kv-head, the channels to zero (ascending importance a_c·b_c, first floor(d·ρ)). */
export function thinkZeroedChannels(inputs: LayerInputs, rho: number, windowSize: number): number[][] {
  const { nHeads: H, nKvHeads: Hk, headDim: d, ropeTheta } = inputs.config;
  const g = H / Hk;
  const w = Math.min(windowSize, inputs.q);
  const Q = preropeQueries(inputs, inputs.q - w, w).map((rows) => rows.map((q, i) => rope(q, inputs.n - w + i, ropeTheta, inputs.config.ropeStyle)));
  const pruned = Math.floor(d * rho);
  return Array.from({ length: Hk }, (_x, kv) => {
    const importance = Array.from({ length: d }, (_y, c) => {
      let a = 0;
      for (let j = 0; j < g; j++) for (let i = 0; i < w; i++) a += Q[kv * g + j][i][c] ** 2 / (g * w);
      let b = 0;
      for (let t = 0; t < inputs.n; t++) b += key(inputs, kv, t)[c] ** 2 / inputs.n;
      return a * b;
    });
    return Array.from({ length: d }, (_y, c) => c)
      .sort((x, y) => importance[x] - importance[y] || x - y)
      .slice(0, pruned)
      .sort((x, y) => x - y);
  });
}

/** SimLayerKV: the kept slots of a layer (all of them when it is not lazy). */
export function simLayerKVKept(inputs: LayerInputs, p: { lazyThreshold: number; nLast: number; nRecent: number; nInitial: number }): number[] {
  const n = inputs.n;
  const all = Array.from({ length: n }, (_x, t) => t);
  if (p.lazyThreshold === 1 || n <= p.nInitial + p.nRecent + p.nLast) return all;
  const A = windowAttention(inputs, p.nLast);
  const m = n - p.nLast;
  const mean = new Float64Array(m);
  for (const rows of A) for (const r of rows) for (let t = 0; t < m; t++) mean[t] += r[t] / (A.length * rows.length);
  let score = 0;
  for (let t = 0; t < p.nInitial; t++) score += mean[t];
  for (let t = m - p.nRecent; t < m; t++) score += mean[t];
  if (!(score > p.lazyThreshold)) return all;
  return all.filter((t) => t < p.nInitial || t >= n - (p.nRecent - p.nLast));
}

/** DuoAttention: the streaming (layer, kv-head) pairs = the round(L·Hk·ratio) lowest scores (clipped to [0, 1]). */
export function duoStreamingHeads(headScores: number[][], ratio: number): Set<string> {
  const all = headScores.flatMap((row, l) => row.map((s, h) => ({ l, h, s: Math.min(1, Math.max(0, s)) })));
  all.sort((a, b) => a.s - b.s || a.l * 1000 + a.h - (b.l * 1000 + b.h));
  const count = Math.round(all.length * ratio);
  return new Set(all.slice(0, count).map((e) => `${e.l}:${e.h}`));
}

export interface FastKVzipGate {
  wq: Float32Array; // [Hk·g·16, D]
  bq: Float32Array; // [Hk·g·16]
  wk: Float32Array; // [Hk·16, D]
  qNorm: Float32Array; // [16]
  kNorm: Float32Array; // [16]
  bias: Float32Array; // [Hk, g]
  sinkKeys: Float32Array; // [Hk, S, 16]
  sinks: number;
}

/**
 * FastKVzip gate scores (spec §2.13): the token's softmax share against S learned sink keys, per group member,
 * averaged; first nSink and the last int(n·windowRatio) tokens (all of them when that is 0) set to 1.
 */
export function fastKVzipScores(inputs: LayerInputs, gate: FastKVzipGate, nSink: number, windowRatio: number): Float64Array[] {
  const { nHeads: H, nKvHeads: Hk, hidden: D, rmsEps } = inputs.config;
  const g = H / Hk;
  const o = 16;
  const project = (w: Float32Array, b: Float32Array | undefined, row: number, t: number) =>
    Float64Array.from({ length: o }, (_x, c) => {
      let s = b ? b[row * o + c] : 0;
      for (let i = 0; i < D; i++) s += w[(row * o + c) * D + i] * inputs.hidden[t * D + i];
      return s;
    });
  const rmsNorm = (x: Float64Array, weight: Float32Array) => {
    const scale = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / o + rmsEps);
    return x.map((v, c) => v * scale * weight[c]);
  };
  const window = Math.floor(inputs.n * windowRatio);
  return Array.from({ length: Hk }, (_x, h) =>
    Float64Array.from({ length: inputs.n }, (_y, t) => {
      if (t < nSink || window === 0 || t >= inputs.n - window) return 1;
      const k = rmsNorm(project(gate.wk, undefined, h, t), gate.kNorm);
      let mean = 0;
      for (let j = 0; j < g; j++) {
        const q = rmsNorm(project(gate.wq, gate.bq, h * g + j, t), gate.qNorm);
        const logit = k.reduce((a, v, c) => a + v * q[c], 0) / 4 + gate.bias[h * g + j];
        let denom = 1;
        for (let s = 0; s < gate.sinks; s++) {
          let sl = 0;
          for (let c = 0; c < o; c++) sl += gate.sinkKeys[(h * gate.sinks + s) * o + c] * q[c];
          denom += Math.exp(sl / 4 - logit);
        }
        mean += 1 / denom / g;
      }
      return mean;
    }),
  );
}
