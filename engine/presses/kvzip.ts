// KVzip and FastKVzip: global (across layers and heads) budgets from context-reconstruction importance.
import { z } from 'zod';
import type { ModelConfig } from '../model-spec.js';
import { OtherPress, artefactPath, count, ratio } from './base.js';
import { checkSafetensorsArtefact, malformed, requireArtefactFile } from './artefacts.js';

/** Scores each context token by the attention it gets while the model repeats the context; 2–3× prefill cost. */
export class KVzipPress extends OtherPress<{ compressionRatio: number; layerwise: boolean; nSink: number; kvzipPlusNormalization: boolean }> {
  static readonly className = 'KVzipPress';
  static readonly shortName = 'kvzip';
  static readonly schema = z
    .object({
      compressionRatio: ratio().default(0),
      layerwise: z.boolean().default(false),
      nSink: count().default(4),
      kvzipPlusNormalization: z.boolean().default(false),
    })
    .strict();
}

/**
 * Learned gates approximate KVzip's scores in one pass. Artefact: safetensors of F32 gate weights with, per
 * layer l, tensors named "layers.{l}.<part>" (the native loader in native/src/press/ lists the parts).
 */
export class FastKVzipPress extends OtherPress<{
  compressionRatio: number;
  layerwise: boolean;
  nSink: number;
  windowSize: number;
  windowRatio: number;
  artefactPath: string;
}> {
  static readonly className = 'FastKVzipPress';
  static readonly shortName = 'fast-kvzip';
  static readonly schema = z
    .object({
      compressionRatio: ratio().default(0),
      layerwise: z.boolean().default(false),
      nSink: count().default(4),
      windowSize: count().default(4096),
      windowRatio: z.number().min(0, 'must be ≥ 0').max(1, 'must be ≤ 1').default(0.02),
      artefactPath: artefactPath(),
    })
    .strict();
  constructor(options?: unknown) {
    super(options);
    requireArtefactFile(this.name, this.options.artefactPath);
  }
  override async prepare(model?: ModelConfig): Promise<void> {
    await super.prepare(model);
    const header = await checkSafetensorsArtefact(this.name, this.options.artefactPath, {});
    for (let l = 0; l < (model?.nLayers ?? 0); l++) {
      if (!header.tensors.some((t) => t.name.startsWith(`layers.${l}.`))) {
        this.failCorrupt(`has no gate tensors for layer ${l} ("layers.${l}.*")`);
      }
    }
    const notF32 = header.tensors.find((t) => t.dtype !== 'F32');
    if (notF32) this.failCorrupt(`tensor "${notF32.name}" is ${notF32.dtype}, expected F32`);
  }
  private failCorrupt(what: string): never {
    throw malformed(this.name, this.options.artefactPath, what);
  }
}
