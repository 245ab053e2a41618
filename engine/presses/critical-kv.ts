// CriticalKV and CriticalAdaKV: re-weight an inner scorer by ‖V·W_O‖ in a second stage (kvpress spec §2.10).
import { z } from 'zod';
import type { PressKind } from './base.js';
import { ratio } from './base.js';
import { WrapperPress } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

const criticalOptions = {
  compressionRatio: ratio().optional(),
  epsilon: z.number().min(0, 'must be ≥ 0').default(1e-4),
  firstStageRatio: z.number().min(0, 'must be ≥ 0').max(1, 'must be ≤ 1').default(0.5),
};

/** A scorer itself (kvpress ScorerPress), so it may sit inside AdaKV, KeyRerotation, Chunk, ... */
export class CriticalKVPress extends WrapperPress<{ compressionRatio?: number; epsilon: number; firstStageRatio: number }> {
  static readonly className = 'CriticalKVPress';
  static readonly shortName = 'critical-kv';
  static override readonly kind: PressKind = 'wrapper';
  static override readonly isScorer: boolean = true;
  static readonly schema = z.object(criticalOptions).strict();
}

/** CriticalKV's two stages with AdaKV's head-adaptive budgets (heads free memory for real). */
export class CriticalAdaKVPress extends WrapperPress<{
  compressionRatio?: number;
  epsilon: number;
  firstStageRatio: number;
  alphaSafeguard: number;
}> {
  static readonly className = 'CriticalAdaKVPress';
  static readonly shortName = 'critical-adakv';
  static readonly schema = z
    .object({ ...criticalOptions, alphaSafeguard: z.number().min(0, 'must be ≥ 0').max(1, 'must be ≤ 1').default(0.2) })
    .strict();
}
