// Presses that compress during generation (kvpress spec §4): every `compressionInterval` steps the cache is
// cut back to a target size, so it stays within [target, target + interval − 1].
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { Press, count, ratio, type NativePressConfig, type PressKind, type PressSpec } from './base.js';
import { WrapperPress, isDecodingPress, resolveInner, type InnerRequirement, type RatioSource } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

const decodingOptions = {
  compressionInterval: count(1).default(512),
  targetSize: count(1).default(2048),
  hiddenStatesBufferSize: count().default(256),
};

/** Cuts the cache to `targetSize` every `compressionInterval` generated tokens with a scorer (or AdaKV). */
export class DecodingPress extends WrapperPress<{ compressionInterval: number; targetSize: number; hiddenStatesBufferSize: number }> {
  static readonly className = 'DecodingPress';
  static readonly shortName = 'decoding';
  static override readonly kind: PressKind = 'decoding';
  static override readonly ratioSource: RatioSource = 'none';
  static override readonly innerRequirement: InnerRequirement = 'scorer-or-adakv';
  static readonly schema = z.object(decodingOptions).strict();
  override get compressionRatio(): undefined {
    return undefined;
  }
}

/** DecodingPress whose target is floor(tokens seen · (1 − targetCompressionRatio)). */
export class CompressionRatioDecodingPress extends WrapperPress<{
  targetCompressionRatio: number;
  compressionInterval: number;
  hiddenStatesBufferSize: number;
}> {
  static readonly className = 'CompressionRatioDecodingPress';
  static readonly shortName = 'compression-ratio-decoding';
  static override readonly kind: PressKind = 'decoding';
  static override readonly ratioSource: RatioSource = 'none';
  static override readonly innerRequirement: InnerRequirement = 'scorer-or-adakv';
  static readonly schema = z
    .object({
      targetCompressionRatio: ratio().default(0.5),
      compressionInterval: decodingOptions.compressionInterval,
      hiddenStatesBufferSize: decodingOptions.hiddenStatesBufferSize,
    })
    .strict();
  override get compressionRatio(): number {
    return this.options.targetCompressionRatio;
  }
}

/** Cache Merging: a DecodingPress whose evicted tokens are merged into the values of following kept tokens. */
export class CAMPress extends WrapperPress<{ compressionInterval: number; targetSize: number; hiddenStatesBufferSize: number; mergeBudget: number }> {
  static readonly className = 'CAMPress';
  static readonly shortName = 'cam';
  static override readonly kind: PressKind = 'decoding';
  static override readonly ratioSource: RatioSource = 'none';
  static override readonly innerRequirement: InnerRequirement = 'scorer';
  static readonly schema = z.object({ ...decodingOptions, mergeBudget: count(1).default(32) }).strict();
  override get compressionRatio(): undefined {
    return undefined;
  }
}

/** One press for the prefill and a decoding press for generation; native config lists them in `presses`. */
export class PrefillDecodingPress extends Press<Record<string, never>> {
  static readonly className = 'PrefillDecodingPress';
  static readonly shortName = 'prefill-decoding';
  static readonly kind: PressKind = 'decoding';
  static readonly isScorer = false;
  static readonly innerPresses: Readonly<Record<string, PressSpec | null>> = { prefillingPress: null, decodingPress: null };
  static readonly schema = z.object({}).strict();

  readonly prefillingPress?: Press;
  readonly decodingPress?: Press;

  constructor(input?: unknown) {
    const { prefillingPress, decodingPress, ...rest } = (input ?? {}) as { prefillingPress?: unknown; decodingPress?: unknown };
    super(rest);
    if (prefillingPress == null && decodingPress == null) {
      throw new InvalidArgumentError('PrefillDecodingPress: give "prefillingPress", "decodingPress" or both');
    }
    if (prefillingPress != null) {
      this.prefillingPress = resolveInner(this.name, 'prefillingPress', prefillingPress, 'not-decoding');
      if (isDecodingPress(this.prefillingPress)) throw new InvalidArgumentError(`${this.name}: "prefillingPress" cannot be a decoding press`);
    }
    if (decodingPress != null) this.decodingPress = resolveInner(this.name, 'decodingPress', decodingPress, 'decoding');
  }

  override get compressionRatio(): number | undefined {
    return this.prefillingPress?.compressionRatio;
  }
  override get actsDuringDecoding(): boolean {
    return this.decodingPress !== undefined;
  }
  override get children(): readonly Press[] {
    return [this.prefillingPress, this.decodingPress].filter((p): p is Press => p !== undefined);
  }
  protected override constructorInput(): Record<string, unknown> {
    return { ...super.constructorInput(), prefillingPress: this.prefillingPress, decodingPress: this.decodingPress };
  }
  override toNativeConfig(): NativePressConfig {
    return { ...super.toNativeConfig(), presses: this.children.map((p) => p.toNativeConfig()) };
  }
  override toJSON(): Record<string, unknown> {
    const out = super.toJSON();
    if (this.prefillingPress) out.prefillingPress = this.prefillingPress.toJSON();
    if (this.decodingPress) out.decodingPress = this.decodingPress.toJSON();
    return out;
  }
}
