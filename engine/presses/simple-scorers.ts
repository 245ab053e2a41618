// Scorers that look only at the cached keys and values (kvpress spec §2.2, §2.6, §2.8).
import { z } from 'zod';
import { ScorerPress, count, ratio, requireLonger } from './base.js';

/** Uniform random scores (the baseline every real press must beat); `seed` makes it reproducible. */
export class RandomPress extends ScorerPress<{ compressionRatio: number; seed?: number }> {
  static readonly className = 'RandomPress';
  static readonly shortName = 'random';
  static readonly schema = z.object({ compressionRatio: ratio().default(0), seed: count().optional() }).strict();
}

/** Keeps the keys with the smallest L2 norm. */
export class KnormPress extends ScorerPress<{ compressionRatio: number }> {
  static readonly className = 'KnormPress';
  static readonly shortName = 'knorm';
  static readonly schema = z.object({ compressionRatio: ratio().default(0) }).strict();
}

/** Keeps the keys least similar (cosine) to the head's mean normalised key. */
export class KeyDiffPress extends ScorerPress<{ compressionRatio: number }> {
  static readonly className = 'KeyDiffPress';
  static readonly shortName = 'keydiff';
  static readonly schema = z.object({ compressionRatio: ratio().default(0) }).strict();
}

/** Keeps the first `nSink` tokens and the most recent ones. */
export class StreamingLLMPress extends ScorerPress<{ compressionRatio: number; nSink: number }> {
  static readonly className = 'StreamingLLMPress';
  static readonly shortName = 'streaming-llm';
  static readonly schema = z.object({ compressionRatio: ratio().default(0), nSink: count().default(4) }).strict();
  override validateForContext(n: number): void {
    super.validateForContext(n);
    requireLonger(this, n, this.options.nSink, 'nSink');
  }
}

/** Query-free, partition-relative scores: each lag partition is judged against the range of the next one. */
export class LagKVPress extends ScorerPress<{ compressionRatio: number; nSink: number; lagSize: number; crossScoring: boolean }> {
  static readonly className = 'LagKVPress';
  static readonly shortName = 'lagkv';
  static readonly schema = z
    .object({ compressionRatio: ratio().default(0), nSink: count().default(4), lagSize: count(1).default(128), crossScoring: z.boolean().default(false) })
    .strict();
}

/** CurDKV's approximate leverage of keys and values, with `numSinks` first tokens protected. */
export class CURPress extends ScorerPress<{
  compressionRatio: number;
  numSinks: number;
  leverageType: 'key' | 'value' | 'kv_avg' | 'kv_product';
  useRandomLeverage: boolean;
  useLocalApproximation: boolean;
  localWindowSize: number;
  seed?: number;
}> {
  static readonly className = 'CURPress';
  static readonly shortName = 'cur';
  static readonly schema = z
    .object({
      compressionRatio: ratio().default(0),
      numSinks: count().default(4),
      leverageType: z.enum(['key', 'value', 'kv_avg', 'kv_product']).default('kv_product'),
      useRandomLeverage: z.boolean().default(false),
      useLocalApproximation: z.boolean().default(true),
      localWindowSize: count(1).default(16),
      seed: count().optional(),
    })
    .strict();
}
