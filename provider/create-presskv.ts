// createPressKV(settings) → an AI SDK provider; `presskv` is the default instance.
// Models load lazily on first use, once per (path or id, settings), and are shared by every model
// object and call that names them.
import { NoSuchModelError, type LanguageModelV3, type ProviderV3 } from '@ai-sdk/provider';
import { InvalidArgumentError } from '../engine/errors.js';
import { Model } from '../engine/model.js';
import type { LoadOptions } from '../engine/types.js';
import { PressKVLanguageModel, PROVIDER_NAME } from './language-model.js';

/** Settings of one model: how the engine loads and runs it. */
export interface PressKVModelSettings {
  /** Worker threads for the math (default: the machine's cores). */
  threads?: number;
  /** Max tokens per sequence; defaults to the model's context length. */
  contextLength?: number;
  /** KV cache storage type (default 'f16'). */
  kvDtype?: 'f16' | 'f32';
  /** Tokens per prefill chunk. */
  prefillChunk?: number;
}

/** Provider-wide settings: defaults for every model, plus where hub downloads go. */
export interface PressKVProviderSettings extends PressKVModelSettings {
  /** Directory for org/name hub downloads (default ~/.cache/presskv/hub). */
  cacheDir?: string;
}

export interface PressKVProvider extends ProviderV3 {
  (modelPathOrId: string, settings?: PressKVModelSettings): LanguageModelV3;
  languageModel(modelPathOrId: string, settings?: PressKVModelSettings): LanguageModelV3;
  /** Loads (or returns the already loaded) engine Model behind an id, e.g. to tokenize or inspect it. */
  loadModel(modelPathOrId: string, settings?: PressKVModelSettings): Promise<Model>;
  /** Frees every loaded model; later calls load them again. */
  dispose(): void;
}

const SETTING_KEYS = ['threads', 'contextLength', 'kvDtype', 'prefillChunk', 'cacheDir'] as const;

export function createPressKV(settings: PressKVProviderSettings = {}): PressKVProvider {
  checkSettings(settings, 'createPressKV');
  const loaded = new Map<string, Promise<Model>>();

  const loadModel = (id: string, modelSettings: PressKVModelSettings = {}): Promise<Model> => {
    const options: LoadOptions = { ...pick(settings), ...pick(modelSettings) };
    const key = JSON.stringify([id, SETTING_KEYS.map((k) => options[k] ?? null)]);
    let model = loaded.get(key);
    if (!model) {
      model = Model.load(id, options);
      loaded.set(key, model);
      // A failed load is not cached: the next call reports the error again (or succeeds once fixed).
      model.catch(() => loaded.delete(key));
    }
    return model;
  };

  const languageModel = (id: string, modelSettings: PressKVModelSettings = {}): LanguageModelV3 => {
    if (typeof id !== 'string' || id.trim() === '') {
      throw new InvalidArgumentError('presskv(modelPathOrId): give a .gguf file, an HF model directory or an org/name hub id');
    }
    checkSettings(modelSettings, `presskv('${id}')`);
    return new PressKVLanguageModel(id, () => loadModel(id, modelSettings));
  };

  const provider = function (id: string, modelSettings?: PressKVModelSettings) {
    if (new.target) throw new InvalidArgumentError('The presskv provider is a function: call it without `new`');
    return languageModel(id, modelSettings);
  } as PressKVProvider;
  Object.assign(provider, {
    specificationVersion: 'v3' as const,
    languageModel,
    loadModel,
    embeddingModel: (modelId: string) => {
      throw new NoSuchModelError({ modelId, modelType: 'embeddingModel', message: 'presskv provides language models only' });
    },
    textEmbeddingModel: (modelId: string) => {
      throw new NoSuchModelError({ modelId, modelType: 'embeddingModel', message: 'presskv provides language models only' });
    },
    imageModel: (modelId: string) => {
      throw new NoSuchModelError({ modelId, modelType: 'imageModel', message: 'presskv provides language models only' });
    },
    dispose: () => {
      for (const model of loaded.values()) model.then((m) => m.dispose(), () => {});
      loaded.clear();
    },
  });
  return provider;
}

/** The default provider with default settings. */
export const presskv: PressKVProvider = createPressKV();

function pick(s: PressKVProviderSettings): LoadOptions {
  const out: LoadOptions = {};
  for (const k of SETTING_KEYS) if (s[k] !== undefined) (out as Record<string, unknown>)[k] = s[k];
  return out;
}

function checkSettings(settings: object, where: string): void {
  if (typeof settings !== 'object' || settings === null) throw new InvalidArgumentError(`${where}: settings must be an object`);
  const unknown = Object.keys(settings).filter((k) => !(SETTING_KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new InvalidArgumentError(`${where}: unknown setting ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${SETTING_KEYS.join(', ')})`);
}
