// Presses that model the queries still to come with statistics of the prefill's own queries (or stored
// ones), rotated by the average RoPE of the next `nFuturePositions` positions (kvpress spec §2.4, §2.5).
import { z } from 'zod';
import type { ModelConfig } from '../model-spec.js';
import { ScorerPress, artefactPath, count, ratio, requireLonger, type ArtefactTensors } from './base.js';

const expectedAttentionOptions = {
  compressionRatio: ratio().default(0),
  nFuturePositions: count(1).default(512),
  nSink: count().default(4),
  useCovariance: z.boolean().default(true),
  useVnorm: z.boolean().default(true),
  epsilon: z.number().min(0, 'must be ≥ 0').default(0),
};

type ExpectedAttentionOptions = {
  compressionRatio: number;
  nFuturePositions: number;
  nSink: number;
  useCovariance: boolean;
  useVnorm: boolean;
  epsilon: number;
};

/** Expected softmax attention of future queries ~ N(μ, Σ) from the prefill's queries, times ‖V‖. */
export class ExpectedAttentionPress extends ScorerPress<ExpectedAttentionOptions> {
  static readonly className = 'ExpectedAttentionPress';
  static readonly shortName = 'expected-attention';
  static readonly schema = z.object(expectedAttentionOptions).strict();
  override validateForContext(n: number): void {
    super.validateForContext(n);
    requireLonger(this, n, this.options.nSink, 'nSink');
  }
}

/**
 * ExpectedAttention with query statistics read from a file (`presskv calibrate --kind expected-attention-stats`):
 * safetensors with F32 tensors "query_mean" [L, H, d] and "query_cov" [L, H, d, d] of pre-RoPE queries.
 */
export class ExpectedAttentionStatsPress extends ScorerPress<ExpectedAttentionOptions & { artefactPath: string }> {
  static readonly className = 'ExpectedAttentionStatsPress';
  static readonly shortName = 'expected-attention-stats';
  static readonly schema = z.object({ ...expectedAttentionOptions, artefactPath: artefactPath() }).strict();
  override validateForContext(n: number): void {
    super.validateForContext(n);
    requireLonger(this, n, this.options.nSink, 'nSink');
  }
  protected override artefactTensors(model?: ModelConfig): ArtefactTensors {
    const L = model?.nLayers ?? null;
    const H = model?.nHeads ?? null;
    const d = model?.headDim ?? null;
    return { query_mean: [L, H, d], query_cov: [L, H, d, d] };
  }
}

/** CAPKV: log-det leverage of values under a capacity matrix weighted by similarity to the future-query anchor. */
export class CapPress extends ScorerPress<{ compressionRatio: number; tau: number; nFuturePositions: number; nSink: number; epsilon: number }> {
  static readonly className = 'CapPress';
  static readonly shortName = 'cap';
  static readonly schema = z
    .object({
      compressionRatio: ratio().default(0),
      tau: z.number().positive('must be > 0').default(5),
      nFuturePositions: count(1).default(512),
      nSink: count().default(4),
      epsilon: z.number().min(0, 'must be ≥ 0').default(1e-6),
    })
    .strict();
  override validateForContext(n: number): void {
    super.validateForContext(n);
    requireLonger(this, n, this.options.nSink, 'nSink');
  }
}
