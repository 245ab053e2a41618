// DMSPress: threshold eviction of tokens as they leave a sliding window (kvpress spec §2.16, §4.5).
import { z } from 'zod';
import { count } from './base.js';
import { WrapperPress, type RatioSource } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

/**
 * Tokens whose inner score (token-local scorers: KVzap, Knorm, Random, ...) is below `threshold` are evicted once
 * they leave the last `slidingWindowSize` tokens; with `decoding` it keeps doing so during generation.
 */
export class DMSPress extends WrapperPress<{ threshold: number; slidingWindowSize: number; decoding: boolean }> {
  static readonly className = 'DMSPress';
  static readonly shortName = 'dms';
  static override readonly ratioSource: RatioSource = 'none';
  static readonly schema = z
    .object({
      threshold: z.number({ error: 'is required: scores below it are evicted (KVzap scores are log-space, e.g. -6)' }),
      slidingWindowSize: count().default(128),
      decoding: z.boolean().default(false),
    })
    .strict();
  override get actsDuringDecoding(): boolean {
    return this.options.decoding;
  }
  /** Read-only: known only after the prefill. */
  override get compressionRatio(): undefined {
    return undefined;
  }
}
