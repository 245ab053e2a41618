// Presses that hold other presses: the one-inner WrapperPress (AdaKV, ChunkKV, KeyRerotation, Decoding...)
// and the checks on what a wrapper may hold.
import { InvalidArgumentError } from '../errors.js';
import { Press, resolvePressSpec, type NativePressConfig, type PressClass, type PressKind, type PressSpec } from './base.js';

/** What a wrapper accepts inside: kvpress asserts `isinstance(press, ScorerPress)` for most of them. */
export type InnerRequirement = 'scorer' | 'scorer-or-adakv' | 'not-decoding' | 'decoding';

/**
 * Where a wrapper's compression ratio lives: `inner` = kvpress forwards `compression_ratio` to the wrapped
 * press (AdaKV, ChunkKV, ...), so a ratio given to the wrapper is pushed down; `own` = the wrapper has its
 * own (LUKV); `none` = the wrapper decides the budget otherwise (DMS threshold, decoding targets, per-layer list).
 */
export type RatioSource = 'inner' | 'own' | 'none';

export interface WrapperClass extends PressClass {
  readonly innerRequirement: InnerRequirement;
  readonly ratioSource: RatioSource;
}

const DECODING_CLASSES = new Set(['DecodingPress', 'CompressionRatioDecodingPress', 'CAMPress']);

export function isDecodingPress(p: Press): boolean {
  return DECODING_CLASSES.has(p.name);
}

/** Resolves an inner press spec and checks that the wrapper may hold it. */
export function resolveInner(owner: string, option: string, spec: unknown, requirement: InnerRequirement): Press {
  if (spec === undefined || spec === null) {
    throw new InvalidArgumentError(`${owner}: option "${option}" is required, e.g. { ${option}: { name: 'snapkv' } }`);
  }
  let inner: Press;
  try {
    inner = resolvePressSpec(spec as PressSpec);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(`${owner}.${option}: ${err.message}`, { cause: err });
    throw err;
  }
  const ok =
    requirement === 'scorer'
      ? inner.isScorer
      : requirement === 'scorer-or-adakv'
        ? inner.isScorer || inner.name === 'AdaKVPress'
        : requirement === 'decoding'
          ? isDecodingPress(inner)
          : inner.kind !== 'decoding';
  if (!ok) {
    const wanted = {
      scorer: 'a scorer press (ScorerPress: snapkv, knorm, expected-attention, ... or critical-kv / a custom scorer)',
      'scorer-or-adakv': 'a scorer press or an AdaKVPress',
      decoding: 'a decoding press (DecodingPress, CompressionRatioDecodingPress or CAMPress)',
      'not-decoding': 'a prefill press (not a decoding press)',
    }[requirement];
    throw new InvalidArgumentError(`${owner}: option "${option}" must be ${wanted}, got ${inner.name} (kind ${inner.kind})`);
  }
  return inner;
}

function splitInner(input: unknown): { inner: unknown; rest: unknown } {
  if (input === undefined || input === null || typeof input !== 'object' || Array.isArray(input)) return { inner: undefined, rest: input };
  const { press, ...rest } = input as Record<string, unknown>;
  return { inner: press, rest };
}

/** A press wrapping exactly one inner press, given as `press` (instance or spec). */
export abstract class WrapperPress<O extends Record<string, unknown> = Record<string, unknown>> extends Press<O> {
  static readonly kind: PressKind = 'wrapper';
  static readonly isScorer: boolean = false;
  static readonly innerPresses: Readonly<Record<string, PressSpec | null>> = { press: null };
  static readonly innerRequirement: InnerRequirement = 'scorer';
  static readonly ratioSource: RatioSource = 'inner';

  readonly press: Press;

  constructor(input?: unknown) {
    const { inner, rest } = splitInner(input);
    super(rest);
    const cls = this.constructor as unknown as WrapperClass;
    let press = resolveInner(cls.className, 'press', inner ?? cls.innerPresses?.press, cls.innerRequirement);
    const r = (this.options as Record<string, unknown>).compressionRatio;
    if (cls.ratioSource === 'inner' && typeof r === 'number') press = press.withOptions({ compressionRatio: r });
    this.press = press;
  }

  override get compressionRatio(): number | undefined {
    const cls = this.constructor as unknown as WrapperClass;
    if (cls.ratioSource === 'inner') return this.press.compressionRatio;
    return super.compressionRatio;
  }

  override get children(): readonly Press[] {
    return [this.press];
  }

  protected override constructorInput(): Record<string, unknown> {
    return { ...super.constructorInput(), press: this.press };
  }

  override toNativeConfig(): NativePressConfig {
    const base = super.toNativeConfig();
    const cls = this.constructor as unknown as WrapperClass;
    const r = this.compressionRatio;
    if (cls.ratioSource === 'inner' && r !== undefined) base.options.compressionRatio = r;
    return { ...base, press: this.press.toNativeConfig() };
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), press: this.press.toJSON() };
  }
}
