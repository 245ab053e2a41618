// Finch: SnapKV-like scores from the question's queries, then rerotation to contiguous positions (kvpress spec §2.3).
import { z } from 'zod';
import { OtherPress, count, ratio } from './base.js';

/** The window is the question (the tokens after the context); needs the question prefilled with the context. */
export class FinchPress extends OtherPress<{ compressionRatio: number; chunkLength?: number; normalizeScores: boolean; rerotateKeys: boolean }> {
  static readonly className = 'FinchPress';
  static readonly shortName = 'finch';
  static readonly schema = z
    .object({
      compressionRatio: ratio().default(0),
      chunkLength: count(1).optional(),
      normalizeScores: z.boolean().default(true),
      rerotateKeys: z.boolean().default(true),
    })
    .strict();
}
