// MergingPress: evicted tokens are folded into the values of their most similar kept token.
import { z } from 'zod';
import { ratio } from './base.js';
import { WrapperPress } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

/** Keys are untouched; values of kept tokens absorb similar evicted ones (weights from key cosine and ‖V‖). */
export class MergingPress extends WrapperPress<{ compressionRatio?: number; similarityThreshold: number; mergeFraction: number }> {
  static readonly className = 'MergingPress';
  static readonly shortName = 'merging';
  static readonly schema = z
    .object({
      compressionRatio: ratio().optional(),
      similarityThreshold: z.number().min(-1, 'must be ≥ −1').max(1, 'must be ≤ 1').default(0),
      mergeFraction: z.number().gt(0, 'must be > 0').max(1, 'must be ≤ 1').default(1),
    })
    .strict();
}
