// Q-Filters: one learned direction per (layer, kv-head) projected on the post-RoPE keys (kvpress spec §2.2).
import { z } from 'zod';
import type { ModelConfig } from '../model-spec.js';
import { ScorerPress, artefactPath, ratio, type ArtefactTensors } from './base.js';

/** Artefact: safetensors with the F32 tensor "q_filters" [L, Hk, d] (`presskv calibrate --kind qfilter`). */
export class QFilterPress extends ScorerPress<{ compressionRatio: number; artefactPath: string }> {
  static readonly className = 'QFilterPress';
  static readonly shortName = 'qfilter';
  static readonly schema = z.object({ compressionRatio: ratio().default(0), artefactPath: artefactPath() }).strict();
  protected override artefactTensors(model?: ModelConfig): ArtefactTensors {
    return { q_filters: [model?.nLayers ?? null, model?.nKvHeads ?? null, model?.headDim ?? null] };
  }
}
