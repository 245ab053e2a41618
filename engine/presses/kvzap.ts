// KVzap: a per-layer linear or MLP surrogate of KVzip+ scores read from the attention input (kvpress spec §2.15).
import { z } from 'zod';
import type { ModelConfig } from '../model-spec.js';
import { ScorerPress, artefactPath, ratio, type ArtefactTensors } from './base.js';

/**
 * Artefact (native/src/press/artefacts.h): safetensors, per layer l: "layers.{l}.w1" [O, D], "layers.{l}.b1" [O];
 * mlp adds "layers.{l}.w2" [Hk, O], "layers.{l}.b2" [Hk] with GELU between (O = 512 in kvpress); linear: O = Hk.
 * Scores are log-space (≈ log KVzip+), which is what DMSPress thresholds compare against.
 */
export class KVzapPress extends ScorerPress<{ compressionRatio: number; modelType: 'linear' | 'mlp'; artefactPath: string }> {
  static readonly className = 'KVzapPress';
  static readonly shortName = 'kvzap';
  static readonly schema = z
    .object({ compressionRatio: ratio().default(0), modelType: z.enum(['linear', 'mlp']).default('mlp'), artefactPath: artefactPath() })
    .strict();
  protected override artefactTensors(model?: ModelConfig): ArtefactTensors {
    const layers = model?.nLayers ?? 1;
    const D = model?.hidden ?? null;
    const Hk = model?.nKvHeads ?? null;
    const expected: ArtefactTensors = {};
    for (let l = 0; l < layers; l++) {
      if (this.options.modelType === 'linear') {
        expected[`layers.${l}.w1`] = [Hk, D];
        expected[`layers.${l}.b1`] = [Hk];
      } else {
        expected[`layers.${l}.w1`] = [null, D];
        expected[`layers.${l}.b1`] = [null];
        expected[`layers.${l}.w2`] = [Hk, null];
        expected[`layers.${l}.b2`] = [Hk];
      }
    }
    return expected;
  }
}
