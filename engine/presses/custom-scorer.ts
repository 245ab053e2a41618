// Scorers written in TypeScript: the native press pipeline calls `score(layer)` once per layer during the
// prefill and selects from the returned scores exactly as for a built-in scorer, so a custom scorer composes
// with every wrapper (AdaKV, KeyRerotation, Chunk, DecodingPress, ...).
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { ScorerPress, count, ratio, type NativePressConfig } from './base.js';

/** What `score` receives for one layer; all arrays are row-major, f32 unless said otherwise. */
export interface CustomScorerLayer {
  layer: number;
  nLayers: number;
  /** Slots per kv-head in this layer's cache (the context tokens during prefill). */
  n: number;
  /** Rows of `hiddenStates` (tokens of this forward). */
  q: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  hiddenSize: number;
  /** X, the attention input after the layer's input RMSNorm: [q, hiddenSize]. */
  hiddenStates: Float32Array;
  /** Cached keys after RoPE: [nKvHeads, n, headDim]. */
  keys: Float32Array;
  /** Cached values: [nKvHeads, n, headDim]. */
  values: Float32Array;
  /** Original token position of every slot: [nKvHeads, n]. */
  positions: Int32Array;
  /** Rows of `windowQueries`: min(windowSize, q). */
  windowSize: number;
  /** Queries of the last `windowSize` rows of X, after q-norm and RoPE: [nHeads, windowSize, headDim]. */
  windowQueries: Float32Array;
}

/** One score per (kv-head, slot), [nKvHeads · n], higher = keep. */
export type CustomScoreFn = (layer: CustomScorerLayer) => Float32Array | Float64Array | number[];

/** Runs the user's scorer and checks what it returned before native code uses it. */
export function runCustomScorer(label: string, fn: CustomScoreFn, layer: CustomScorerLayer): Float32Array {
  const expected = layer.nKvHeads * layer.n;
  const out = fn(layer);
  if (!(out instanceof Float32Array || out instanceof Float64Array || Array.isArray(out))) {
    throw new InvalidArgumentError(`${label}: score() must return a Float32Array, Float64Array or number[] of ${expected} scores`);
  }
  if (out.length !== expected) {
    throw new InvalidArgumentError(
      `${label}: score() returned ${out.length} scores for layer ${layer.layer}, expected nKvHeads·n = ${layer.nKvHeads}·${layer.n} = ${expected}`,
    );
  }
  const scores = out instanceof Float32Array ? out : Float32Array.from(out);
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw new InvalidArgumentError(`${label}: score() returned NaN at index ${i} (layer ${layer.layer})`);
  }
  return scores;
}

/** A ScorerPress whose scores come from `score`; `windowSize` sets how many recent queries it receives. */
export class CustomScorerPress extends ScorerPress<{ compressionRatio: number; windowSize: number; label: string; score: CustomScoreFn }> {
  static readonly className = 'CustomScorerPress';
  static readonly shortName = 'custom-scorer';
  static readonly schema = z
    .object({
      compressionRatio: ratio().default(0),
      windowSize: count().default(64),
      label: z.string().default('CustomScorerPress'),
      score: z.custom<CustomScoreFn>((v) => typeof v === 'function', 'must be a function (layer) => scores'),
    })
    .strict();

  override toNativeConfig(): NativePressConfig {
    const { score, label, ...options } = this.options;
    return {
      name: this.name,
      options: { ...options, label },
      score: (layer: CustomScorerLayer) => runCustomScorer(label, score, layer),
    };
  }
  override toJSON(): Record<string, unknown> {
    const { score: _score, ...rest } = super.toJSON();
    return rest;
  }
}
