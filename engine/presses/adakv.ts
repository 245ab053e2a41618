// AdaKV: one budget per layer shared across its kv-heads by a global top-k (kvpress spec §2.16).
import { z } from 'zod';
import { ratio } from './base.js';
import { WrapperPress } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

/**
 * Keeps the layer's top Hk·floor(n(1−r)) scores across all its heads, each head keeping at least its
 * top floor(floor(n(1−r))·alphaSafeguard); heads end with different lengths and free memory for real.
 */
export class AdaKVPress extends WrapperPress<{ compressionRatio?: number; alphaSafeguard: number }> {
  static readonly className = 'AdaKVPress';
  static readonly shortName = 'adakv';
  static readonly schema = z
    .object({
      compressionRatio: ratio().optional(),
      alphaSafeguard: z.number().min(0, 'must be ≥ 0').max(1, 'must be ≤ 1').default(0.2),
    })
    .strict();
}
