// PerLayerCompression: a different compression ratio for each layer (kvpress spec §2.16).
import { z } from 'zod';
import type { ModelConfig } from '../model-spec.js';
import { WrapperPress, type RatioSource } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

/** `compressionRatios[l]` applies to layer l (1 is allowed here: the layer keeps nothing). */
export class PerLayerCompressionPress extends WrapperPress<{ compressionRatios: number[] }> {
  static readonly className = 'PerLayerCompressionPress';
  static readonly shortName = 'per-layer-compression';
  static override readonly ratioSource: RatioSource = 'none';
  static readonly schema = z
    .object({
      compressionRatios: z
        .array(z.number().min(0, 'must be ≥ 0').max(1, 'must be ≤ 1'), { error: 'is required: one ratio per layer' })
        .min(1, 'must list one ratio per layer'),
    })
    .strict();
  /** Read-only: the mean of the per-layer ratios. */
  override get compressionRatio(): number {
    const r = this.options.compressionRatios;
    return r.reduce((a, b) => a + b, 0) / r.length;
  }
  override validateForModel(model: ModelConfig): void {
    super.validateForModel(model);
    if (this.options.compressionRatios.length !== model.nLayers) {
      this.fail(`compressionRatios lists ${this.options.compressionRatios.length} ratios but the model has ${model.nLayers} layers`);
    }
  }
}
