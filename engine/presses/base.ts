// The press base classes: a press is a validated configuration that the engine hands to the native
// press pipeline (native/src/press/); native code scores and selects, this side only configures and composes.
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import type { ModelConfig } from '../model-spec.js';
import { checkSafetensorsArtefact, requireArtefactFile, type ExpectedShape } from './artefacts.js';

/** How a press takes part in the pipeline; `scorer` presses are the only ones the scorer-only wrappers accept. */
export type PressKind = 'scorer' | 'wrapper' | 'decoding' | 'other';

export type NativeOptionValue = number | boolean | string | number[];

/**
 * The object the addon receives (native PressConfig): option names are camelCase as in the TS classes,
 * every option with a default is present with its value filled in (the schema is the only place defaults
 * live: the native side reads them without defaults of its own), options left unset (kvpress's `None`)
 * are absent, booleans stay booleans. A wrapper's inner press is
 * `press`; ComposedPress and PrefillDecodingPress list theirs in `presses` (PrefillDecodingPress:
 * [prefilling press, decoding press], either may be missing — the decoding one is the one whose name is a
 * decoding press class). CustomScorerPress adds `score`, the JS callback the native side calls per layer.
 */
export interface NativePressConfig {
  name: string;
  options: Record<string, NativeOptionValue>;
  press?: NativePressConfig;
  presses?: NativePressConfig[];
  score?: (layer: import('./custom-scorer.js').CustomScorerLayer) => Float32Array | Float64Array | number[];
}

/** A press given by name with its options, as in `{ name: 'snapkv', compressionRatio: 0.5 }`. */
export type PressSpec =
  | string
  | Press
  | ({ name: string; options?: Record<string, unknown>; press?: PressSpec; presses?: PressSpec[] } & Record<string, unknown>);

/** What each concrete press class declares about itself (read by the registry and the CLI listing). */
export interface PressClass<P extends Press = Press> {
  new (options?: any): P;
  readonly className: string;
  readonly shortName: string;
  readonly kind: PressKind;
  readonly schema: z.ZodObject<any>;
  /** True when the press returns one score per (kv-head, token) and may sit inside scorer-only wrappers. */
  readonly isScorer: boolean;
  /** Options holding inner presses (not in `schema`): their names and default specs (null = required). */
  readonly innerPresses?: Readonly<Record<string, PressSpec | null>>;
}

/** compression_ratio: fraction of KV pairs removed, 0 ≤ r < 1. */
export const ratio = () =>
  z
    .number({ error: 'must be a number' })
    .min(0, 'must be ≥ 0 (the fraction of the cache to remove)')
    .lt(1, 'must be < 1 (1 would remove the whole cache)');
export const count = (min = 0) => z.number({ error: 'must be a number' }).int('must be an integer').min(min, `must be ≥ ${min}`);
export const artefactPath = () =>
  z
    .string({ error: 'is required: the local file holding this press\'s artefact (see docs/PRESSES.md for its format)' })
    .min(1, 'must not be empty');

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') return `unknown option(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      const where = issue.path.length ? `"${issue.path.join('.')}"` : 'options';
      return `${where} ${issue.message.replace(/^Invalid input: /, '')}`;
    })
    .join('; ');
}

/** Parses `input` against the class schema; every failure becomes one InvalidArgumentError naming the press. */
export function parsePressOptions<O>(cls: PressClass, input: unknown): O {
  if (input !== undefined && (input === null || typeof input !== 'object' || Array.isArray(input))) {
    throw new InvalidArgumentError(`${cls.className}: options must be an object, got ${JSON.stringify(input)}`);
  }
  const result = cls.schema.safeParse(input ?? {});
  if (!result.success) {
    const known = Object.keys(cls.schema.shape).concat(Object.keys(cls.innerPresses ?? {}));
    const unknown = result.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : []));
    // kvpress users write snake_case (window_size); point them at the camelCase name.
    const renames = unknown
      .map((k) => [k, k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())] as const)
      .filter(([k, camel]) => camel !== k && known.includes(camel))
      .map(([k, camel]) => `"${k}" is spelled "${camel}" here`);
    const hint = unknown.length
      ? ` (${renames.length ? `${renames.join('; ')}; ` : ''}known options: ${known.length ? known.join(', ') : 'none'})`
      : '';
    throw new InvalidArgumentError(`${cls.className}: ${formatIssues(result.error.issues)}${hint}`);
  }
  return result.data as O;
}

/** The options with their defaults; options without a default (required or kvpress's `None`) map to null. */
export function defaultOptions(cls: PressClass): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(cls.schema.shape as Record<string, z.ZodType>)) {
    const r = field.safeParse(undefined);
    out[key] = r.success && r.data !== undefined ? r.data : null;
  }
  for (const [key, spec] of Object.entries(cls.innerPresses ?? {})) out[key] = spec ?? null;
  return out;
}

function toNativeOptions(options: Record<string, unknown>): Record<string, NativeOptionValue> {
  const out: Record<string, NativeOptionValue> = {};
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined || v === null) continue;
    out[k] = v as NativeOptionValue;
  }
  return out;
}

// The registry installs itself here (registry.ts imports every press module, so wrappers cannot import it).
let pressResolver: ((spec: PressSpec) => Press) | undefined;
export function setPressResolver(resolver: (spec: PressSpec) => Press): void {
  pressResolver = resolver;
}
export function resolvePressSpec(spec: PressSpec): Press {
  if (spec instanceof Press) return spec;
  if (!pressResolver) throw new Error('press registry not loaded: import presses from engine/presses/index.js');
  return pressResolver(spec);
}

/** Tensors a safetensors artefact must hold, by name, with their shapes. */
export type ArtefactTensors = Record<string, ExpectedShape>;

export abstract class Press<O extends Record<string, unknown> = Record<string, unknown>> {
  readonly options: Readonly<O>;

  constructor(options?: unknown) {
    this.options = Object.freeze(parsePressOptions<O>(this.pressClass, options));
    // Presses that read a file (option `artefactPath`) fail as soon as they are created when it is absent.
    const path = this.artefactPath;
    if (path !== undefined) requireArtefactFile(this.name, path);
  }

  /** The press's artefact file: its `artefactPath` option where it has one. */
  get artefactPath(): string | undefined {
    const path = (this.options as Record<string, unknown>).artefactPath;
    return typeof path === 'string' ? path : undefined;
  }

  /**
   * The tensors a safetensors artefact must hold for `model` (sizes the model does not fix, or all of them
   * without a model, are null). Artefact presses override this; `prepare` checks the file against it.
   */
  protected artefactTensors(_model?: ModelConfig): ArtefactTensors | undefined {
    return undefined;
  }

  /** Checks the artefact's content against the model; presses with a non-safetensors artefact override it. */
  protected async checkArtefact(model?: ModelConfig): Promise<void> {
    const path = this.artefactPath;
    const tensors = this.artefactTensors(model);
    if (path !== undefined && tensors !== undefined) await checkSafetensorsArtefact(this.name, path, tensors);
  }

  get pressClass(): PressClass {
    return this.constructor as unknown as PressClass;
  }
  get name(): string {
    return this.pressClass.className;
  }
  get kind(): PressKind {
    return this.pressClass.kind;
  }
  get isScorer(): boolean {
    return this.pressClass.isScorer;
  }

  /** The requested fraction of the cache to remove, where the press has one (read-only ones report undefined). */
  get compressionRatio(): number | undefined {
    const r = (this.options as Record<string, unknown>).compressionRatio;
    return typeof r === 'number' ? r : undefined;
  }

  /**
   * True when the press keeps compressing while tokens are generated (DecodingPress, CompressionRatioDecodingPress,
   * CAMPress, PrefillDecodingPress with a decoding press, DMSPress with `decoding`), not only at the prefill.
   */
  get actsDuringDecoding(): boolean {
    return this.kind === 'decoding';
  }

  /** Inner presses, in the order the native config lists them. */
  get children(): readonly Press[] {
    return [];
  }

  /** What the constructor needs to rebuild this press (options plus inner press instances). */
  protected constructorInput(): Record<string, unknown> {
    return { ...this.options };
  }

  /** A new press of the same class with some options replaced (kvpress mutates; presses here are immutable). */
  withOptions(patch: Record<string, unknown>): this {
    const Cls = this.constructor as new (options: unknown) => this;
    return new Cls({ ...this.constructorInput(), ...patch });
  }

  toNativeConfig(): NativePressConfig {
    return { name: this.name, options: toNativeOptions(this.options) };
  }

  /** A plain spec that `createPress` turns back into an equal press. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name };
    for (const [k, v] of Object.entries(this.options)) if (v !== undefined) out[k] = v;
    return out;
  }

  /** Checks that need the model's shape (artefact shapes are checked by `prepare`). */
  validateForModel(_model: ModelConfig): void {
    for (const child of this.children) child.validateForModel(_model);
  }

  /** Checks that need the context length `n` (e.g. a window longer than the context). */
  validateForContext(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${this.name}: context length must be a non-negative integer, got ${n}`);
    for (const child of this.children) child.validateForContext(n);
  }

  /** Reads and validates artefact files against the model before any work starts. */
  async prepare(model?: ModelConfig): Promise<void> {
    if (model) this.validateForModel(model);
    for (const child of this.children) await child.prepare(model);
    await this.checkArtefact(model);
  }

  protected fail(message: string): never {
    throw new InvalidArgumentError(`${this.name}: ${message}`);
  }
}

/** A kvpress ScorerPress: one score per (kv-head, token), higher = keep; keeps floor(n·(1−r)) per head. */
export abstract class ScorerPress<O extends Record<string, unknown> = Record<string, unknown>> extends Press<O> {
  static readonly kind: PressKind = 'scorer';
  static readonly isScorer: boolean = true;
}

/** A press that is neither a scorer nor a wrapper (ThinK, SimLayerKV, DuoAttention, Finch, KVzip, ...). */
export abstract class OtherPress<O extends Record<string, unknown> = Record<string, unknown>> extends Press<O> {
  static readonly kind: PressKind = 'other';
  static readonly isScorer: boolean = false;
}

/** Throws unless `n` is larger than `needed` (window/sink sizes vs the context). */
export function requireLonger(press: Press, n: number, needed: number, what: string): void {
  if (n <= needed) throw new InvalidArgumentError(`${press.name}: ${what} (${needed}) must be shorter than the context (${n} tokens)`);
}
