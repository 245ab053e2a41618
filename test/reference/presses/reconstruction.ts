// Reference behaviour of the context-reconstruction presses (spec §2.12 KVzip, §2.14 KVCompose) as plain
// float64 loops: how the passes are assembled, the attention of a pass over the context, the scores and
// KVzip's global budget. A pass's inputs are what the model produced for its tokens on top of the context:
// its attention inputs X [q, D] and its own post-RoPE keys [Hk, q, d] at positions nContext, nContext + 1, ...
import { row3, type LayerInputs } from './layer-inputs.js';
import { dot, key, norm, preropeQueries, rope, softmax, value } from './math.js';

export interface KVzipPieces {
  repeatPromptIds: number[];
  repeatPartPromptIds: number[];
  suffixIds: number[];
  prefixLength: number;
  chunkSize: number;
}

export interface PlannedPass {
  tokens: number[];
  begin: number;
  end: number;
}

/** kvpress KVzipPress.prepare: chunks of the context after the prefix, each behind its repeat instruction. */
export function kvzipPasses(context: readonly number[], p: KVzipPieces): PlannedPass[] {
  const passes: PlannedPass[] = [];
  const chunks: number[][] = [];
  for (let begin = Math.min(p.prefixLength, context.length); begin < context.length; begin += p.chunkSize) {
    const end = Math.min(context.length, begin + p.chunkSize);
    const chunk = context.slice(begin, end);
    const head = chunks.length === 0 ? p.repeatPromptIds : [...p.repeatPartPromptIds, ...chunks[chunks.length - 1].slice(-8)];
    passes.push({ tokens: [...head, ...p.suffixIds, ...chunk], begin, end });
    chunks.push(chunk);
  }
  return passes;
}

export interface PassInputs {
  hidden: Float32Array; // [q, D]
  keys: Float32Array; // [Hk, q, d] post-RoPE
  values: Float32Array; // [Hk, q, d]
}

/**
 * Attention rows of the pass's queries (RoPE'd at nContext + i) over {context slots [0, min(nSink, begin)),
 * context slots [begin, end), the pass's keys j ≤ i}: [H][q][end − begin] (the probabilities on [begin, end)).
 */
export function passAttention(context: LayerInputs, pass: PassInputs, begin: number, end: number, nSink: number): Float64Array[][] {
  const { nHeads: H, nKvHeads: Hk, headDim: d, ropeTheta, ropeStyle } = context.config;
  const g = H / Hk;
  const q = pass.hidden.length / context.config.hidden;
  const sinks = Math.min(nSink, begin);
  const queries = preropeQueries({ ...context, hidden: pass.hidden, q, n: context.n }, 0, q);
  const scale = 1 / Math.sqrt(d);
  const out: Float64Array[][] = [];
  for (let h = 0; h < H; h++) {
    const kv = Math.floor(h / g);
    const rows: Float64Array[] = [];
    for (let i = 0; i < q; i++) {
      const qv = rope(queries[h][i], context.n + i, ropeTheta, ropeStyle);
      const logits: number[] = [];
      for (let t = 0; t < sinks; t++) logits.push(dot(qv, key(context, kv, t)) * scale);
      for (let t = begin; t < end; t++) logits.push(dot(qv, key(context, kv, t)) * scale);
      for (let j = 0; j <= i; j++) logits.push(dot(qv, row3(pass.keys, q, d, kv, j)) * scale);
      rows.push(softmax(logits).slice(sinks, sinks + end - begin));
    }
    out.push(rows);
  }
  return out;
}

/** ‖v · W_O[h]‖₂ with W_O[h] = the columns h·d .. h·d + d − 1 of W_O [D, H·d]. */
function outputNorm(inputs: LayerInputs, h: number, v: Float64Array): number {
  const { hidden: D, nHeads: H, headDim: d } = inputs.config;
  const wo = inputs.weights.wo!;
  const row = new Float64Array(D);
  for (let o = 0; o < D; o++) for (let c = 0; c < d; c++) row[o] += v[c] * wo[o * H * d + h * d + c];
  return norm(row);
}

/**
 * KVzip scores of one layer [Hk][n]: 0 with the first nSink slots 1, then each pass overwrites its chunk with
 * the max over its rows and the GQA group of the attention (KVzip+: rows ÷ ‖X_row‖, columns × ‖V_t W_O[h]‖).
 */
export function kvzipScores(context: LayerInputs, planned: PlannedPass[], passes: PassInputs[], nSink: number, plus: boolean): Float64Array[] {
  const { nHeads: H, nKvHeads: Hk, hidden: D } = context.config;
  const g = H / Hk;
  const scores = Array.from({ length: Hk }, () => {
    const row = new Float64Array(context.n);
    for (let t = 0; t < Math.min(nSink, context.n); t++) row[t] = 1;
    return row;
  });
  planned.forEach((p, i) => {
    const A = passAttention(context, passes[i], p.begin, p.end, nSink);
    const q = passes[i].hidden.length / D;
    const rowNorms = Array.from({ length: q }, (_x, r) => norm(passes[i].hidden.subarray(r * D, (r + 1) * D)));
    for (let kv = 0; kv < Hk; kv++)
      for (let t = p.begin; t < p.end; t++) {
        let best = 0;
        for (let j = 0; j < g; j++) {
          const h = kv * g + j;
          const column = plus ? outputNorm(context, h, value(context, kv, t)) : 1;
          for (let r = 0; r < q; r++) best = Math.max(best, (A[h][r][t - p.begin] / (plus ? rowNorms[r] : 1)) * column);
        }
        scores[kv][t] = best;
      }
  });
  return scores;
}

/** KVzip's budget: the bottom floor(N·r) of all scores go (ties: the later index first), or per layer when layerwise. */
export function kvzipKept(scores: Float64Array[][], ratio: number, layerwise: boolean): number[][][] {
  const prune = (flat: { s: number; at: number }[], count: number) =>
    new Set(
      [...flat]
        .sort((a, b) => a.s - b.s || b.at - a.at)
        .slice(0, count)
        .map((e) => e.at),
    );
  const perLayer = scores.map((layer) => layer.flatMap((row, h) => Array.from(row, (s, t) => ({ s, at: h * row.length + t }))));
  let gone: Set<number>[];
  if (layerwise) gone = perLayer.map((flat) => prune(flat, Math.floor(flat.length * ratio)));
  else {
    const offsets: number[] = [];
    let total = 0;
    for (const flat of perLayer) {
      offsets.push(total);
      total += flat.length;
    }
    const all = perLayer.flatMap((flat, l) => flat.map((e) => ({ s: e.s, at: offsets[l] + e.at })));
    const globalGone = prune(all, Math.floor(all.length * ratio));
    gone = perLayer.map((flat, l) => new Set(flat.map((e) => e.at).filter((at) => globalGone.has(offsets[l] + at))));
  }
  return scores.map((layer, l) => layer.map((row, h) => Array.from({ length: row.length }, (_x, t) => t).filter((t) => !gone[l].has(h * row.length + t))));
}

/**
 * KVCompose scores of one layer [Hk][n] from its one pass (the context again): per head the max (or mean) over
 * the pass's rows of the attention on the context (softmax over the whole context and the pass's own keys,
 * causal); the group's mean (or max); optionally × ‖V_t‖; then + the mean over kv-heads.
 */
export function kvcomposeScores(
  context: LayerInputs,
  pass: PassInputs,
  o: { aggTask: 'max' | 'mean'; aggGroup: 'max' | 'mean'; addVNorm: boolean; addMeanAcrossHeads: boolean },
): Float64Array[] {
  const { nHeads: H, nKvHeads: Hk } = context.config;
  const g = H / Hk;
  const n = context.n;
  const A = passAttention(context, pass, 0, n, 0);
  const perHead = A.map((rows) => {
    const out = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      const column = rows.map((r) => r[t]);
      out[t] = o.aggTask === 'max' ? Math.max(...column) : column.reduce((a, b) => a + b, 0) / column.length;
    }
    return out;
  });
  const scores = Array.from({ length: Hk }, (_x, kv) => {
    const row = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      const group = perHead.slice(kv * g, (kv + 1) * g).map((r) => r[t]);
      row[t] = o.aggGroup === 'max' ? Math.max(...group) : group.reduce((a, b) => a + b, 0) / g;
      if (o.addVNorm) row[t] *= norm(value(context, kv, t));
    }
    return row;
  });
  if (o.addMeanAcrossHeads)
    for (let t = 0; t < n; t++) {
      const mean = scores.reduce((a, r) => a + r[t], 0) / Hk;
      for (const r of scores) r[t] += mean;
    }
  return scores;
}
