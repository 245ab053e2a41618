// Press names ↔ classes: class names (SnapKVPress) and kebab short names (snapkv), creation from a spec,
// and the listing `presskv presses` prints.
import { InvalidArgumentError } from '../errors.js';
import { Press, defaultOptions, setPressResolver, type PressClass, type PressKind, type PressSpec } from './base.js';
import { AdaKVPress } from './adakv.js';
import { KVzipPress, FastKVzipPress } from './kvzip.js';
import { KVComposePress } from './kvcompose.js';
import { SnapKVPress, PyramidKVPress, TOVAPress, ObservedAttentionPress } from './attention-scorers.js';
import { RandomPress, KnormPress, KeyDiffPress, StreamingLLMPress, LagKVPress, CURPress } from './simple-scorers.js';
import { ExpectedAttentionPress, ExpectedAttentionStatsPress, CapPress } from './expected-attention.js';
import { QFilterPress } from './qfilter.js';
import { NonCausalAttnPress, LeverageScorePress, CompactorPress } from './compactor.js';
import { KVzapPress } from './kvzap.js';
import { ThinKPress } from './think.js';
import { SimLayerKVPress } from './simlayerkv.js';
import { DuoAttentionPress } from './duo-attention.js';
import { FinchPress } from './finch.js';
import { CriticalKVPress, CriticalAdaKVPress } from './critical-kv.js';
import { LUKVPress } from './lukv.js';
import { PerLayerCompressionPress } from './per-layer-compression.js';
import { ComposedPress } from './composed.js';
import { KeyRerotationPress } from './key-rerotation.js';
import { ChunkKVPress, ChunkPress, BlockPress } from './chunking.js';
import { MergingPress } from './merging.js';
import { DMSPress } from './dms.js';
import { DecodingPress, CompressionRatioDecodingPress, PrefillDecodingPress, CAMPress } from './decoding.js';
import { CustomScorerPress } from './custom-scorer.js';

export interface PressListing {
  name: string;
  className: string;
  kind: PressKind;
  options: Record<string, unknown>;
}

// Built on first use: wrapper modules import this file, so the table cannot be filled while modules load.
let table: PressClass[] | undefined;
let byName: Map<string, PressClass> | undefined;
// Classes defined outside this package (registerPressClass), after the built-in ones.
const registered: PressClass[] = [];

/**
 * Makes a press class defined elsewhere (a plugin's, a test's) known to createPress, the listing and the CLI
 * by its class and short names. Its native half registers itself under the same class name in the addon;
 * a name that is already taken is an InvalidArgumentError.
 */
export function registerPressClass(cls: PressClass): void {
  for (const name of [cls.className, cls.shortName]) {
    if (lookupTable().has(name)) throw new InvalidArgumentError(`a press named "${name}" is already registered`);
  }
  registered.push(cls);
  table = undefined;
  byName = undefined;
}

/** Every press class: the kvpress catalogue in its order (scorers, others, wrappers, decoding), then registered ones. */
export function pressClasses(): readonly PressClass[] {
  table ??= [
    RandomPress, KnormPress, SnapKVPress, PyramidKVPress, StreamingLLMPress, TOVAPress, ObservedAttentionPress,
    ExpectedAttentionPress, ExpectedAttentionStatsPress, QFilterPress, LagKVPress, KeyDiffPress, NonCausalAttnPress,
    LeverageScorePress, CompactorPress, CURPress, KVzapPress, CapPress,
    ThinKPress, SimLayerKVPress, DuoAttentionPress, FinchPress, KVzipPress, KVComposePress, FastKVzipPress,
    AdaKVPress, CriticalKVPress, CriticalAdaKVPress, LUKVPress, PerLayerCompressionPress, ComposedPress,
    KeyRerotationPress, ChunkKVPress, ChunkPress, BlockPress, MergingPress, DMSPress,
    DecodingPress, CompressionRatioDecodingPress, PrefillDecodingPress, CAMPress,
    CustomScorerPress,
    ...registered,
  ] as unknown as PressClass[];
  return table;
}

/** Presses usable by name from the CLI and configs (a custom scorer needs a function, so it is not listed). */
export function listedPressClasses(): readonly PressClass[] {
  return pressClasses().filter((c) => c !== (CustomScorerPress as unknown as PressClass));
}

function lookupTable(): Map<string, PressClass> {
  if (!byName) {
    byName = new Map();
    for (const cls of pressClasses()) {
      byName.set(cls.className, cls);
      byName.set(cls.shortName, cls);
    }
  }
  return byName;
}

/** The class for a class name (`SnapKVPress`) or short name (`snapkv`); loose spellings (`snap_kv`, `SnapKV`) too. */
export function findPressClass(name: string): PressClass | undefined {
  const t = lookupTable();
  const exact = t.get(name);
  if (exact) return exact;
  const loose = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '').replace(/press$/, '');
  const key = loose(name);
  return pressClasses().find((c) => loose(c.className) === key || loose(c.shortName) === key);
}

export function knownPressNames(): string[] {
  return listedPressClasses().map((c) => c.shortName);
}

/**
 * A press from a name, a spec `{ name, ...options }` (options may also sit under `options`, as in the native
 * config), or a press (returned as is). Unknown names and bad options throw InvalidArgumentError.
 */
export function createPress(spec: PressSpec): Press {
  if (spec instanceof Press) return spec;
  let name: unknown;
  let options: Record<string, unknown> = {};
  if (typeof spec === 'string') {
    name = spec;
  } else if (spec !== null && typeof spec === 'object' && !Array.isArray(spec)) {
    const { name: n, options: nested, ...rest } = spec as Record<string, unknown>;
    name = n;
    if (nested !== undefined && (nested === null || typeof nested !== 'object' || Array.isArray(nested))) {
      throw new InvalidArgumentError(`press "${String(n)}": "options" must be an object`);
    }
    options = { ...(nested as Record<string, unknown> | undefined), ...rest };
  } else {
    throw new InvalidArgumentError(`a press must be a name, a { name, ...options } object or a press instance, got ${JSON.stringify(spec)}`);
  }
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError(`a press spec needs a "name" (one of: ${knownPressNames().join(', ')})`);
  }
  const cls = findPressClass(name);
  if (!cls) throw new InvalidArgumentError(`unknown press "${name}"; known presses: ${knownPressNames().join(', ')}`);
  return new cls(options);
}

setPressResolver(createPress);

/** One entry per press: `{ name, className, kind, options: { option: default } }` (null = required / unset). */
export function listPresses(): PressListing[] {
  return listedPressClasses().map((cls) => ({
    name: cls.shortName,
    className: cls.className,
    kind: cls.kind,
    options: defaultOptions(cls),
  }));
}
