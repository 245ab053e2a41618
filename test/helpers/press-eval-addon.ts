// What the stories260K press tests (test/press-engine.test.ts, test/presses/stories260k.test.ts) share: the
// addon's pressEvalContext entry (a layer-major prefill with a press, then a continuation) and the shared model
// files. `pressEvalAddon` is undefined when the addon lacks the entry; `havePressEvalFiles` tells whether the
// tests can run at all (they skip cleanly without ../shared).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nativeAddon, type NativeModelHandle } from '../../engine/native.js';
import type { PressEvalResult } from '../../engine/presses/quality.js';

export type EvalResult = PressEvalResult & { ratio: number };

export interface PressEvalAddon {
  loadModel(spec: unknown, options?: { threads?: number }): NativeModelHandle;
  pressEvalContext(model: NativeModelHandle, context: Int32Array, press: unknown, options?: unknown): EvalResult;
}

const modelsDir = fileURLToPath(new URL('../../../shared/models/', import.meta.url));
export const storiesModelPath = `${modelsDir}stories260K.gguf`;
/** llama.cpp's tokens for stories260K: golden200.ids = 200 greedy tokens after "Once upon a time". */
export const storiesGoldenPath = `${modelsDir}golden-stories260K.json`;

export const pressEvalAddon: PressEvalAddon | undefined = (() => {
  try {
    const addon = nativeAddon() as unknown as Partial<PressEvalAddon>;
    return typeof addon.pressEvalContext === 'function' ? (addon as PressEvalAddon) : undefined;
  } catch {
    return undefined;
  }
})();

export const havePressEvalFiles = existsSync(storiesModelPath) && existsSync(storiesGoldenPath) && pressEvalAddon !== undefined;
