// Scorers built on the attention a window of recent queries pays to the cache (kvpress spec §2.3).
import { z } from 'zod';
import { ScorerPress, count, ratio, requireLonger } from './base.js';

const windowOptions = {
  compressionRatio: ratio().default(0),
  windowSize: count(1).default(64),
  kernelSize: count(1)
    .refine((k) => k % 2 === 1, 'must be odd (the pooling keeps the sequence length only for odd kernels)')
    .default(5),
};

/** Attention of the last `windowSize` queries, average-pooled; the window itself is always kept. */
export class SnapKVPress extends ScorerPress<{ compressionRatio: number; windowSize: number; kernelSize: number }> {
  static readonly className = 'SnapKVPress';
  static readonly shortName = 'snapkv';
  static readonly schema = z.object(windowOptions).strict();
  override validateForContext(n: number): void {
    super.validateForContext(n);
    requireLonger(this, n, this.options.windowSize, 'windowSize');
  }
}

/** SnapKV scores with a budget that shrinks linearly from the first layer to the last (mean = n·(1−r)). */
export class PyramidKVPress extends ScorerPress<{ compressionRatio: number; windowSize: number; kernelSize: number; beta: number }> {
  static readonly className = 'PyramidKVPress';
  static readonly shortName = 'pyramidkv';
  static readonly schema = z.object({ ...windowOptions, beta: z.number().positive('must be > 0').default(20) }).strict();
  override validateForContext(n: number): void {
    super.validateForContext(n);
    requireLonger(this, n, this.options.windowSize, 'windowSize');
  }
}

/** Attention of the last token, averaged over all heads; the last token is always kept. */
export class TOVAPress extends ScorerPress<{ compressionRatio: number }> {
  static readonly className = 'TOVAPress';
  static readonly shortName = 'tova';
  static readonly schema = z.object({ compressionRatio: ratio().default(0) }).strict();
}

/** Attention every key received during prefill, normalised by how many queries could see it (H2O-like). */
export class ObservedAttentionPress extends ScorerPress<{ compressionRatio: number }> {
  static readonly className = 'ObservedAttentionPress';
  static readonly shortName = 'observed-attention';
  static readonly schema = z.object({ compressionRatio: ratio().default(0) }).strict();
}
