// The Compactor family: prefill-only scorers from non-causal tile attention and key leverage (kvpress spec §2.7).
import { z } from 'zod';
import { ScorerPress, count, ratio } from './base.js';

/** Column sums of non-causal attention inside tiles of `chunkSize` tokens, times ‖V‖, pooled, z-scored. */
export class NonCausalAttnPress extends ScorerPress<{ compressionRatio: number; chunkSize: number }> {
  static readonly className = 'NonCausalAttnPress';
  static readonly shortName = 'non-causal-attn';
  static readonly schema = z.object({ compressionRatio: ratio().default(0), chunkSize: count(1).default(256) }).strict();
}

/** Statistical leverage of the centred pre-RoPE keys through a Gaussian sketch of `sketchDimension` columns. */
export class LeverageScorePress extends ScorerPress<{ compressionRatio: number; sketchDimension: number; seed?: number }> {
  static readonly className = 'LeverageScorePress';
  static readonly shortName = 'leverage-score';
  static readonly schema = z
    .object({ compressionRatio: ratio().default(0), sketchDimension: count(1).default(48), seed: count().optional() })
    .strict();
}

/** Leverage (weighted by `blending`, default = the ratio) plus non-causal attention, with protected ends. */
export class CompactorPress extends ScorerPress<{
  compressionRatio: number;
  sinkSizeStart: number;
  sinkSizeEnd: number;
  chunkSize: number;
  sketchDimension: number;
  blending?: number;
  seed?: number;
}> {
  static readonly className = 'CompactorPress';
  static readonly shortName = 'compactor';
  static readonly schema = z
    .object({
      compressionRatio: ratio().default(0),
      sinkSizeStart: count().default(8),
      sinkSizeEnd: count().default(4),
      chunkSize: count(1).default(256),
      sketchDimension: count(1).default(48),
      blending: z.number().optional(),
      seed: count().optional(),
    })
    .strict();
}
