// ThinK: prunes the least important key channels per kv-head (kvpress spec §2.3).
import { z } from 'zod';
import { OtherPress, count } from './base.js';

/**
 * Zeroes floor(d·ρ) key channels per kv-head, chosen by window-query energy × key energy. The cache keeps its
 * head dim, so memory only falls where the kernels can skip channels; the honest ratio is ρ/2.
 */
export class ThinKPress extends OtherPress<{ keyChannelCompressionRatio: number; windowSize: number }> {
  static readonly className = 'ThinKPress';
  static readonly shortName = 'think';
  static readonly schema = z
    .object({
      keyChannelCompressionRatio: z.number().min(0, 'must be ≥ 0').lt(1, 'must be < 1').default(0),
      windowSize: count(1).default(32),
    })
    .strict();
  /** Read-only in kvpress: keys are half of the KV bytes. */
  override get compressionRatio(): number {
    return this.options.keyChannelCompressionRatio / 2;
  }
}
