// Reference selections of the kvpress wrappers (spec §2.10, §2.16) on top of given inner scores [Hk][n].
import type { LayerInputs } from './layer-inputs.js';
import { dot, norm, value } from './math.js';
import { adaKVSelect, keptCount, topK } from './selection.js';

type Rows = Float64Array[];

/** ν_{kv,t} = mean over the group's query heads h of ‖V_{kv,t} · W_O[h]‖₁ (W_O[h] = the d×D slice of o_proj). */
export function criticalNorms(inputs: LayerInputs): Rows {
  const { nHeads: H, nKvHeads: Hk, headDim: d, hidden: D } = inputs.config;
  const g = H / Hk;
  const wo = inputs.weights.wo!;
  const HD = H * d;
  return Array.from({ length: Hk }, (_x, kv) =>
    Float64Array.from({ length: inputs.n }, (_y, t) => {
      const v = value(inputs, kv, t);
      let total = 0;
      for (let j = 0; j < g; j++) {
        const h = kv * g + j;
        let l1 = 0;
        for (let o = 0; o < D; o++) {
          let s = 0;
          for (let c = 0; c < d; c++) s += v[c] * wo[o * HD + h * d + c];
          l1 += Math.abs(s);
        }
        total += l1 / g;
      }
      return total;
    }),
  );
}

/** Replaces +Infinity ("forced") by a finite value above everything else, so tolerances stay finite. */
function finiteForced(rows: Rows): Rows {
  let m = -Infinity;
  for (const r of rows) for (const x of r) if (Number.isFinite(x)) m = Math.max(m, x);
  return rows.map((r) => r.map((x) => (x === Infinity ? m + 1 + Math.abs(m) : x)));
}

/** CriticalKV's final scores: stage-1 top-B1 forced to the max, the rest (S + ε)·ν. */
export function criticalKVScores(scores: Rows, nu: Rows, ratio: number, epsilon: number, firstStageRatio: number): Rows {
  const n = scores[0].length;
  const b1 = Math.floor((1 - ratio) * n * firstStageRatio);
  return finiteForced(
    scores.map((row, h) => {
      const forced = new Set(topK(row, b1));
      return row.map((s, t) => (forced.has(t) ? Infinity : (s + epsilon) * nu[h][t]));
    }),
  );
}

/** CriticalAdaKV (spec §2.10): per-head budgets from a global top-k, two stages inside each head's budget. */
export function criticalAdaKVSelect(scores: Rows, nu: Rows, ratio: number, alpha: number, epsilon: number, firstStageRatio: number): number[][] {
  const Hk = scores.length;
  const n = scores[0].length;
  const nKept = keptCount(n, ratio);
  const safeguard = Math.floor(nKept * alpha);
  const s1 = scores.map((row) => {
    const forced = new Set(topK(row, safeguard));
    return row.map((x, t) => (forced.has(t) ? Infinity : x));
  });
  const budgets = adaKVSelect(s1, ratio, 0).map((k) => k.length);
  const final = s1.map((row, h) => {
    const stage1 = new Set(topK(row, Math.floor(budgets[h] * firstStageRatio)));
    const s2 = row.map((x, t) => (stage1.has(t) ? Infinity : (x + epsilon) * nu[h][t]));
    const top = new Set(topK(s2, budgets[h]));
    return row.map((_x, t) => (top.has(t) ? Infinity : s2[t]));
  });
  const flat: { h: number; t: number; s: number }[] = [];
  final.forEach((row, h) => row.forEach((s, t) => flat.push({ h, t, s })));
  flat.sort((a, b) => b.s - a.s || a.h - b.h || a.t - b.t);
  const kept: number[][] = Array.from({ length: Hk }, () => []);
  for (const e of flat.slice(0, Hk * nKept)) kept[e.h].push(e.t);
  return kept.map((k) => k.sort((a, b) => a - b));
}

/** ChunkKV: whole chunks by mean over tokens of the scores summed over heads; same slots for every head. */
export function chunkKVSelect(scores: Rows, ratio: number, chunkLength: number): number[] {
  const n = scores[0].length;
  const chunks = Math.ceil(n / chunkLength);
  const chunkScores = Float64Array.from({ length: chunks }, (_x, c) => {
    const start = c * chunkLength;
    const end = Math.min(n, start + chunkLength);
    let s = 0;
    for (let t = start; t < end; t++) for (const row of scores) s += row[t];
    return s / (end - start);
  });
  const keep = Math.max(1, keptCount(chunks, ratio));
  const out: number[] = [];
  for (const c of topK(chunkScores, keep)) for (let t = c * chunkLength; t < Math.min(n, (c + 1) * chunkLength); t++) out.push(t);
  return out;
}

/** ChunkPress: each chunk keeps max(1, floor(len(1−r))) of its own top scores. */
export function chunkSelect(row: ArrayLike<number>, ratio: number, chunkLength: number): number[] {
  const out: number[] = [];
  for (let start = 0; start < row.length; start += chunkLength) {
    const slice = Array.from(row).slice(start, start + chunkLength);
    for (const t of topK(slice, Math.max(1, keptCount(slice.length, ratio)))) out.push(start + t);
  }
  return out;
}

/** MergingPress values of the kept slots (keys unchanged), threshold and merge fraction 1. */
export function mergedValues(inputs: LayerInputs, h: number, kept: number[], threshold: number): Float64Array[] {
  const d = inputs.config.headDim;
  const keyOf = (t: number) => Float64Array.from({ length: d }, (_x, c) => inputs.keys[(h * inputs.n + t) * d + c]);
  const keptSet = new Set(kept);
  const sumW = new Map<number, number>();
  const sumWV = new Map<number, Float64Array>();
  for (let e = 0; e < inputs.n; e++) {
    if (keptSet.has(e)) continue;
    const ke = keyOf(e);
    let best = -Infinity;
    let target = kept[0];
    for (const t of kept) {
      const kt = keyOf(t);
      const sim = dot(ke, kt) / (norm(ke) * norm(kt));
      if (sim > best) {
        best = sim;
        target = t;
      }
    }
    if (best < threshold) continue;
    const ve = norm(value(inputs, h, e));
    const vt = norm(value(inputs, h, target));
    const w = (Math.max(best, 0) * ve) / (ve + vt + 1e-6);
    if (w <= 0) continue;
    sumW.set(target, (sumW.get(target) ?? 0) + w);
    const acc = sumWV.get(target) ?? new Float64Array(d);
    const v = value(inputs, h, e);
    for (let c = 0; c < d; c++) acc[c] += w * v[c];
    sumWV.set(target, acc);
  }
  return kept.map((t) => {
    const v = value(inputs, h, t);
    const w = sumW.get(t);
    if (!w) return v;
    const acc = sumWV.get(t)!;
    return v.map((x, c) => (x + acc[c]) / (1 + w));
  });
}

/** LU-KV per-head counts for one layer from the curve [99][L][Hk] (spec §2.16). */
export function lukvCounts(curve: Float32Array, nLayers: number, Hk: number, layer: number, n: number, ratio: number): number[] {
  const row = Math.min(98, Math.max(0, Math.round(100 * ratio) - 1));
  const ideal = Array.from({ length: Hk }, (_x, h) => (1 - curve[(row * nLayers + layer) * Hk + h]) * n);
  const total = Math.min(Hk * n, Math.max(Hk, Math.round(ideal.reduce((a, b) => a + b, 0))));
  const counts = ideal.map((k) => Math.floor(k));
  let remainder = total - counts.reduce((a, b) => a + b, 0);
  const order = ideal.map((k, h) => ({ h, frac: k - Math.floor(k) })).sort((a, b) => b.frac - a.frac || a.h - b.h);
  for (const { h } of order) {
    if (remainder <= 0) break;
    counts[h] += 1;
    remainder -= 1;
  }
  return counts.map((c) => Math.min(n, Math.max(1, c)));
}
