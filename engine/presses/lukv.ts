// LU-KV: per-(layer, kv-head) budgets read from a precomputed budget curve (kvpress spec §2.16).
import { z } from 'zod';
import type { ModelConfig } from '../model-spec.js';
import { artefactPath, count, ratio, type ArtefactTensors, type PressSpec } from './base.js';
import { WrapperPress, type RatioSource } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

/** Rows of a budget curve: target ratios 1 % … 99 %. */
export const LUKV_CURVE_ROWS = 99;

/**
 * Artefact: safetensors with the tensor "curve" [99, L, Hk] — row i holds the per-head prune
 * ratios for a target of (i+1) %. The inner scorer ranks tokens inside each head; first `sink` and last
 * `window` tokens are always kept.
 */
export class LUKVPress extends WrapperPress<{ compressionRatio: number; sink: number; window: number; artefactPath: string }> {
  static readonly className = 'LUKVPress';
  static readonly shortName = 'lukv';
  static override readonly ratioSource: RatioSource = 'own';
  static override readonly innerPresses: Readonly<Record<string, PressSpec | null>> = {
    press: { name: 'ExpectedAttentionPress', epsilon: 0.02 },
  };
  static readonly schema = z
    .object({ compressionRatio: ratio().default(0), sink: count().default(4), window: count().default(1), artefactPath: artefactPath() })
    .strict();
  protected override artefactTensors(model?: ModelConfig): ArtefactTensors {
    return { curve: [LUKV_CURVE_ROWS, model?.nLayers ?? null, model?.nKvHeads ?? null] };
  }
}
