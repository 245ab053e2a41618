// The provider's stored contexts: one ContextStore per loaded model (all with the provider's contextStore
// settings), and the provider-level cacheContext / get / list / delete / extend over them. Context ids carry
// the model's fingerprint, so an id names a context of exactly one model.
import type { ChatMessage } from '../engine/chat-template.js';
import { ContextNotFoundError, ContextStore, type ContextInfo, type ContextStoreOptions } from '../engine/context-store.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { Model } from '../engine/model.js';
import type { PressSpec } from '../engine/presses/base.js';
import { cacheContext, type CachedContext } from './cache-context.js';
import { PressContextStore } from './press-context-store.js';
import type { ContextStores } from './context-call.js';

export interface CacheContextSettings {
  /** The model path or id (as given to the provider) the context is for. */
  model: string;
  /** Load settings of that model, when it is used with some. */
  modelSettings?: { threads?: number; contextLength?: number; kvDtype?: 'f16' | 'f32'; prefillChunk?: number };
  /** A document or instructions (stored as the system message), or chat messages. */
  context?: string | ChatMessage[];
  /** Or the conversation prefix as chat messages. */
  messages?: ChatMessage[];
  /** The press that compresses the context: a press, a name, or `{ name, compressionRatio, ... }`. */
  press?: PressSpec;
  /** Seconds until it expires (0 = never; default: the store's defaultTtlSeconds). */
  ttl?: number;
  name?: string;
  signal?: AbortSignal;
}

export interface ProviderCachedContext extends ContextInfo {
  /** True when this call stored it (false: an equal context was stored already). */
  created: boolean;
}

const STORE_OPTION_KEYS = ['maxBytes', 'cacheDir', 'defaultTtlSeconds'] as const;

export class ProviderContexts implements ContextStores {
  private readonly stores = new Map<Model, ContextStore>();

  constructor(private readonly options: ContextStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('createPressKV: contextStore must be an object');
    const unknown = Object.keys(options).filter((k) => !(STORE_OPTION_KEYS as readonly string[]).includes(k));
    if (unknown.length) {
      throw new InvalidArgumentError(`createPressKV: unknown contextStore setting ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${STORE_OPTION_KEYS.join(', ')})`);
    }
  }

  create(model: Model): ContextStore {
    let store = this.stores.get(model);
    if (!store) {
      // Without a cacheDir, contexts compressed by a TypeScript scorer (CustomScorerPress) can be stored too:
      // keyed by the scorer function's identity, which cannot survive a restart, hence never with a cacheDir.
      store = this.options.cacheDir === undefined ? new PressContextStore(model, this.options) : new ContextStore(model, this.options);
      this.stores.set(model, store);
    }
    return store;
  }

  existing(model: Model): ContextStore | undefined {
    return this.stores.get(model);
  }

  async cacheContext(model: Model, settings: CacheContextSettings): Promise<ProviderCachedContext> {
    const stored: CachedContext = await cacheContext(this.create(model), {
      context: settings.context,
      messages: settings.messages,
      press: settings.press,
      ttlSeconds: settings.ttl,
      name: settings.name,
      signal: settings.signal,
    });
    const { messages: _messages, text: _text, ...info } = stored;
    return info;
  }

  async get(id: string, stores = this.all()): Promise<ContextInfo> {
    return this.first(id, stores, (store) => store.get(id));
  }

  async list(stores = this.all()): Promise<ContextInfo[]> {
    const lists = await Promise.all(stores.map((store) => store.list()));
    return lists.flat().sort((a, b) => a.createdAt - b.createdAt);
  }

  async delete(id: string, stores = this.all()): Promise<boolean> {
    let deleted = false;
    for (const store of stores) deleted = (await store.delete(id)) || deleted;
    return deleted;
  }

  async extend(id: string, ttl: number, stores = this.all()): Promise<ContextInfo> {
    return this.first(id, stores, (store) => store.extend(id, ttl));
  }

  /** Disposes every store (their contexts' sessions); resolves when they are freed. */
  disposeAll(): Promise<unknown> {
    const all = this.all();
    this.stores.clear();
    return Promise.allSettled(all.map((store) => store.dispose()));
  }

  private all(): ContextStore[] {
    return [...this.stores.values()];
  }

  /**
   * The answer of the store that holds the id. With a cacheDir every store sees every file, and a file made
   * for another model is refused by the others: that refusal only counts when no store takes the id.
   */
  private async first<T>(id: string, stores: ContextStore[], op: (store: ContextStore) => Promise<T>): Promise<T> {
    let refusal: unknown;
    for (const store of stores) {
      try {
        return await op(store);
      } catch (err) {
        if (!(err instanceof ContextNotFoundError)) refusal ??= err;
      }
    }
    if (refusal) throw refusal;
    if (typeof id !== 'string' || !/^ctx_[0-9a-f]{32}$/.test(id)) {
      throw new ContextNotFoundError(`"${String(id)}" is not a context id (they look like ctx_ followed by 32 hex digits)`);
    }
    throw new ContextNotFoundError(
      stores.length
        ? `No stored context has the id ${id} (it may have expired, been deleted or evicted)`
        : `No stored context has the id ${id}: no model is loaded yet (pass { model } to look in that model's store)`,
    );
  }
}
