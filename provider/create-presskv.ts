// createPressKV(settings) → an AI SDK provider; `presskv` is the default instance.
// Models load lazily on first use, once per (path or id, settings), and are shared by every model
// object and call that names them.
import { NoSuchModelError, type LanguageModelV3, type ProviderV3 } from '@ai-sdk/provider';
import type { ContextInfo, ContextStore, ContextStoreOptions } from '../engine/context-store.js';
import { InvalidArgumentError } from '../engine/errors.js';
import { Model } from '../engine/model.js';
import type { DeviceOption, LoadOptions } from '../engine/types.js';
import { ProviderContexts, type CacheContextSettings, type ProviderCachedContext } from './provider-contexts.js';
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
  /** true: map the weight files instead of reading them into private memory (the default, the faster decode). */
  mmap?: boolean;
  /** 'auto' (default: a CUDA GPU when one works, else the CPU), 'cpu', 'cuda' or 'cuda:N'. */
  device?: DeviceOption;
}

/** Provider-wide settings: defaults for every model, plus where hub downloads go. */
export interface PressKVProviderSettings extends PressKVModelSettings {
  /** Directory for org/name hub downloads (default ~/.cache/presskv/hub). */
  cacheDir?: string;
  /**
   * Stored contexts (one store per loaded model): KV byte budget (LRU beyond it), a directory to persist them in,
   * default TTL. A call answered from one reports prompt caching as hosted providers do (call-pipeline.ts):
   * usage.inputTokens.cacheWrite = the context's tokens on the call that stores (or rebuilds) it, cacheRead on
   * every later call, noCache = the rest (total = noCache + cacheRead + cacheWrite).
   */
  contextStore?: Pick<ContextStoreOptions, 'maxBytes' | 'cacheDir' | 'defaultTtlSeconds'>;
}

export interface PressKVProvider extends ProviderV3 {
  (modelPathOrId: string, settings?: PressKVModelSettings): LanguageModelV3;
  languageModel(modelPathOrId: string, settings?: PressKVModelSettings): LanguageModelV3;
  /** Loads (or returns the already loaded) engine Model behind an id, e.g. to tokenize or inspect it. */
  loadModel(modelPathOrId: string, settings?: PressKVModelSettings): Promise<Model>;
  /** Frees every loaded model; later calls load them again. */
  dispose(): void;
  /** The context store of a model (for contextCacheMiddleware, or to inspect it). */
  contextStore(modelPathOrId: string, settings?: PressKVModelSettings): Promise<ContextStore>;
  /**
   * Prefills (and, with `press`, compresses) a context once and stores it; calls then use it through
   * `providerOptions.presskv.contextId`, or automatically when their prompt's context part is the same.
   */
  cacheContext(options: CacheContextSettings): Promise<ProviderCachedContext>;
  /** A stored context of any loaded model (or of `model`, loading it). Unknown or expired ids throw ERR_NOT_FOUND. */
  getContext(id: string, options?: { model?: string }): Promise<ContextInfo>;
  listContexts(options?: { model?: string }): Promise<ContextInfo[]>;
  /** False when no loaded model's store held it. */
  deleteContext(id: string, options?: { model?: string }): Promise<boolean>;
  /** Sets the context to expire `ttl` seconds from now (0 = never). */
  extendContext(id: string, ttl: number, options?: { model?: string }): Promise<ContextInfo>;
}

const SETTING_KEYS = ['threads', 'contextLength', 'kvDtype', 'prefillChunk', 'cacheDir', 'mmap', 'device'] as const;

export function createPressKV(providerSettings: PressKVProviderSettings = {}): PressKVProvider {
  if (typeof providerSettings !== 'object' || providerSettings === null) throw new InvalidArgumentError('createPressKV: settings must be an object');
  const { contextStore, ...settings } = providerSettings;
  checkSettings(settings, 'createPressKV');
  const contexts = new ProviderContexts(contextStore);
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
    return new PressKVLanguageModel(id, () => loadModel(id, modelSettings), contexts);
  };

  /** One model's store when `model` is given (loading it), else every loaded model's. */
  const storesOf = async (options?: { model?: string }): Promise<ContextStore[] | undefined> =>
    options?.model === undefined ? undefined : [contexts.create(await loadModel(options.model))];

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
    contextStore: async (id: string, modelSettings?: PressKVModelSettings) => contexts.create(await loadModel(id, modelSettings)),
    cacheContext: async (options: CacheContextSettings) => {
      if (typeof options?.model !== 'string') throw new InvalidArgumentError('cacheContext needs `model`: the model path or id the context is for');
      return contexts.cacheContext(await loadModel(options.model, options.modelSettings), options);
    },
    getContext: async (id: string, options?: { model?: string }) => contexts.get(id, await storesOf(options)),
    listContexts: async (options?: { model?: string }) => contexts.list(await storesOf(options)),
    deleteContext: async (id: string, options?: { model?: string }) => contexts.delete(id, await storesOf(options)),
    extendContext: async (id: string, ttl: number, options?: { model?: string }) => contexts.extend(id, ttl, await storesOf(options)),
    dispose: () => {
      const stores = contexts.disposeAll();
      // Models go once their stores have freed the contexts' sessions.
      for (const model of loaded.values()) model.then((m) => stores.then(() => m.dispose()), () => {});
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
