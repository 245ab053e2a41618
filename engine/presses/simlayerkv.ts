// SimLayerKV: layers whose last queries look only at the first and most recent tokens become streaming layers.
import { z } from 'zod';
import { OtherPress, count } from './base.js';

/** A lazy layer keeps `nInitial` + recent tokens; the ratio is known only after the prefill (read-only). */
export class SimLayerKVPress extends OtherPress<{ lazyThreshold: number; nLast: number; nRecent: number; nInitial: number }> {
  static readonly className = 'SimLayerKVPress';
  static readonly shortName = 'simlayerkv';
  static readonly schema = z
    .object({
      lazyThreshold: z.number().min(0, 'must be ≥ 0').max(1, 'must be ≤ 1 (1 disables the press)').default(1),
      nLast: count(1).default(1),
      nRecent: count(1).default(1024),
      nInitial: count().default(4),
    })
    .strict()
    .refine((o) => o.nRecent >= o.nLast, { message: 'nRecent must be ≥ nLast (the recent window includes the last queries)', path: ['nRecent'] });
  override get compressionRatio(): undefined {
    return undefined;
  }
}
