// KVzip and FastKVzip: global (across layers and heads) budgets from context-reconstruction importance.
import { z } from 'zod';
import type { ModelConfig } from '../model-spec.js';
import { OtherPress, artefactPath, count, ratio, type ArtefactTensors, type NativePressConfig } from './base.js';
import { RECONSTRUCTION_CHUNK_TOKENS, reconstructionPrompts, type PressTextSource } from './reconstruction-prompts.js';

/**
 * Scores each context token by the attention it gets while the model repeats the context (reconstruction
 * passes after the prefill, in chunks of 2048 tokens); 2–3× prefill cost. Its native config carries the
 * reconstruction prompts as token ids of the model, so it needs the model's tokenizer (nativeConfigFor).
 */
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

  /** The native config with the reconstruction prompts tokenised for the model (none needed at ratio 0). */
  nativeConfigFor(text: PressTextSource | undefined): NativePressConfig {
    const config = this.toNativeConfig();
    if (this.options.compressionRatio === 0) return config;
    if (!text) this.fail('needs the model\'s tokenizer to build its reconstruction prompts: compress through a model (Session.prefillContext, the provider, the CLI)');
    return { ...config, options: { ...config.options, ...reconstructionPrompts(text), chunkSize: RECONSTRUCTION_CHUNK_TOKENS } };
  }
}

/** Width of FastKVzip's gate vectors (kvpress: dim16). */
export const FAST_KVZIP_GATE_DIM = 16;

/**
 * Learned gates approximate KVzip's scores in one pass. Artefact (native/src/press/artefacts.h): safetensors,
 * per layer l: "layers.{l}.wq" [Hk·g·16, D], "layers.{l}.bq" [Hk·g·16], "layers.{l}.wk" [Hk·16, D],
 * "layers.{l}.q_norm" [16], "layers.{l}.k_norm" [16], "layers.{l}.bias" [Hk, g], "layers.{l}.sink_keys" [Hk, S, 16].
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
  protected override artefactTensors(model?: ModelConfig): ArtefactTensors {
    const o = FAST_KVZIP_GATE_DIM;
    const D = model?.hidden ?? null;
    const Hk = model?.nKvHeads ?? null;
    const g = model ? model.nHeads / model.nKvHeads : null;
    const Hq = model ? model.nHeads * o : null;
    const expected: ArtefactTensors = {};
    for (let l = 0; l < (model?.nLayers ?? 1); l++) {
      Object.assign(expected, {
        [`layers.${l}.wq`]: [Hq, D],
        [`layers.${l}.bq`]: [Hq],
        [`layers.${l}.wk`]: [Hk === null ? null : Hk * o, D],
        [`layers.${l}.q_norm`]: [o],
        [`layers.${l}.k_norm`]: [o],
        [`layers.${l}.bias`]: [Hk, g],
        [`layers.${l}.sink_keys`]: [Hk, null, o],
      });
    }
    return expected;
  }
}
