// Access to the native press entry (addon scorePressLayer) for the press tests; tests skip with a message
// when the addon is not built or does not have the entry yet.
import { callNative, nativeAddon } from '../../engine/native.js';
import type { Press } from '../../engine/presses/index.js';
import type { LayerInputs } from '../reference/presses/layer-inputs.js';

export interface ScorePressResult {
  scores?: Float32Array;
  kept: Int32Array[];
  keys?: Float32Array;
  values?: Float32Array;
  positions?: Int32Array[];
  channelRatio: number;
}

interface PressAddon {
  scorePressLayer(config: unknown, inputs: unknown): ScorePressResult;
  pressNames(): string[];
}

function load(): { addon?: PressAddon; reason?: string } {
  try {
    const addon = nativeAddon() as unknown as Partial<PressAddon>;
    if (typeof addon.scorePressLayer !== 'function') return { reason: 'the addon has no scorePressLayer entry yet' };
    return { addon: addon as PressAddon };
  } catch (err) {
    return { reason: (err as Error).message };
  }
}

const loaded = load();
if (!loaded.addon) console.warn(`[presses] native press tests skipped: ${loaded.reason}`);

export const pressAddon = loaded.addon;

/** Press names the native side knows (empty when the addon is absent). */
export function nativePressNames(): Set<string> {
  return new Set(pressAddon?.pressNames() ?? []);
}

/** Runs `press` on one layer natively; native errors come back as typed errors. */
export function scoreLayer(press: Press, inputs: LayerInputs): ScorePressResult {
  if (!pressAddon) throw new Error('native press entry unavailable');
  return callNative(() => pressAddon!.scorePressLayer(press.toNativeConfig(), inputs));
}
