// ComposedPress: several presses applied in turn to the same layer (kvpress spec §2.16).
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { Press, type NativePressConfig, type PressKind, type PressSpec } from './base.js';
import { resolveInner } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

/** Presses that decide across layers or by masking a global budget cannot run one after another per layer. */
const NOT_COMPOSABLE = new Set(['AdaKVPress', 'KVzipPress', 'FastKVzipPress', 'KVComposePress', 'PrefillDecodingPress']);

/** Each press sees the cache the previous one left; the ratio is 1 − Π(1 − rᵢ). */
export class ComposedPress extends Press<Record<string, never>> {
  static readonly className = 'ComposedPress';
  static readonly shortName = 'composed';
  static readonly kind: PressKind = 'wrapper';
  static readonly isScorer = false;
  static readonly innerPresses: Readonly<Record<string, PressSpec | null>> = { presses: null };
  static readonly schema = z.object({}).strict();

  readonly presses: readonly Press[];

  constructor(input?: unknown) {
    const { presses, ...rest } = (input ?? {}) as { presses?: unknown };
    super(rest);
    if (!Array.isArray(presses) || presses.length === 0) {
      throw new InvalidArgumentError('ComposedPress: option "presses" must be a non-empty array of presses, e.g. [{ name: "snapkv" }, { name: "think" }]');
    }
    this.presses = presses.map((spec, i) => {
      const p = resolveInner('ComposedPress', `presses[${i}]`, spec, 'not-decoding');
      if (NOT_COMPOSABLE.has(p.name)) {
        throw new InvalidArgumentError(`ComposedPress: presses[${i}] is ${p.name}, which cannot be composed (it decides across heads or layers)`);
      }
      return p;
    });
  }

  override get compressionRatio(): number | undefined {
    let kept = 1;
    for (const p of this.presses) {
      const r = p.compressionRatio;
      if (r === undefined) return undefined;
      kept *= 1 - r;
    }
    return 1 - kept;
  }
  override get children(): readonly Press[] {
    return this.presses;
  }
  protected override constructorInput(): Record<string, unknown> {
    return { ...super.constructorInput(), presses: this.presses };
  }
  override toNativeConfig(): NativePressConfig {
    return { ...super.toNativeConfig(), presses: this.presses.map((p) => p.toNativeConfig()) };
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), presses: this.presses.map((p) => p.toJSON()) };
  }
}
