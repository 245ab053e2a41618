// Access to the native press entry (scorePressLayer of the test-only addon) for the press tests.
import { callNative, nativeAddon } from '../../engine/native.js';
import { testingAddon } from '../helpers/testing-addon.js';
import type { Press } from '../../engine/presses/index.js';
import type { LayerInputs } from '../reference/presses/layer-inputs.js';

export interface ScorePressResult {
  scores?: Float32Array;
  kept: Int32Array[];
  keys?: Float32Array;
  values?: Float32Array;
  positions?: Int32Array[];
  channelRatio: number;
  /** Kept slots the selection's tie rule decided (LayerDecision::tied_kept). */
  tiedSlots: number;
}

interface PressAddon {
  scorePressLayer(config: unknown, inputs: unknown): ScorePressResult;
  pressNames(): string[];
}

const harness = testingAddon<Pick<PressAddon, 'scorePressLayer'>>();
const names = nativeAddon() as unknown as Pick<PressAddon, 'pressNames'>;

export const pressAddon: PressAddon | undefined = { scorePressLayer: harness.scorePressLayer, pressNames: () => names.pressNames() };

/** Press names the native side knows (empty when the addon is absent). */
export function nativePressNames(): Set<string> {
  return new Set(pressAddon?.pressNames() ?? []);
}

/** Runs `press` on one layer natively; native errors come back as typed errors. */
export function scoreLayer(press: Press, inputs: LayerInputs): ScorePressResult {
  if (!pressAddon) throw new Error('native press entry unavailable');
  return callNative(() => pressAddon!.scorePressLayer(press.toNativeConfig(), inputs));
}
