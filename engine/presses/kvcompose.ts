// KVCompose: attention-guided composite tokens with budgets shared across layers (kvpress spec §2.14).
import { z } from 'zod';
import { OtherPress, count, ratio } from './base.js';

/** KVCompose: attention-guided composite tokens; `structured` keeps equal counts per head in a layer. */
export class KVComposePress extends OtherPress<{
  compressionRatio: number;
  structured: boolean;
  aggTask: 'max' | 'mean';
  aggGroup: 'max' | 'mean';
  aggHead: 'max' | 'mean';
  addVNorm: boolean;
  addMeanAcrossHeads: boolean;
  keepTokenLowerBound: number;
}> {
  static readonly className = 'KVComposePress';
  static readonly shortName = 'kvcompose';
  static readonly schema = z
    .object({
      compressionRatio: ratio().default(0),
      structured: z.boolean().default(true),
      aggTask: z.enum(['max', 'mean']).default('max'),
      aggGroup: z.enum(['max', 'mean']).default('mean'),
      aggHead: z.enum(['max', 'mean']).default('mean'),
      addVNorm: z.boolean().default(false),
      addMeanAcrossHeads: z.boolean().default(true),
      keepTokenLowerBound: count().default(0),
    })
    .strict();
}
