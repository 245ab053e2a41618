// contextCacheMiddleware({ store, context | contextId }): puts a context (a document, a system prompt) before
// every call's prompt and answers from its stored — and, with a press, compressed — KV cache, so each call
// prefills only its own messages. With neither, the context is taken from each call's own prompt (DESIGN.md
// §5): up to and including the last message marked `providerOptions.presskv.cacheBreakpoint` (or
// `compress: true`, on the message or one of its parts), else everything before the final user message; it
// is stored on first sight and reused by every later call whose prompt starts the same way (with the query-aware
// FinchPress: stored with each call's question, compressed together, and reused by that question only).
//
// With `store`, a call is planned and answered by the provider's one call pipeline (planCall, generateCall /
// streamCall from provider/index.ts) on the store's model — the same code the presskv provider runs for its own
// stored contexts (createPressKV's contextStore, the store-less mode below) — so both report alike. Usage
// follows hosted prompt caching: inputTokens.total is the whole prompt = noCache + cacheRead + cacheWrite; the
// call that stores the context (or brings it back after eviction) reports its tokens as cacheWrite, every later
// call as cacheRead, and noCache is the call's own question. providerMetadata.presskv = { contextId,
// contextPress, tokensBefore, tokensAfter, bytes, bytesBefore, compressed, cacheHit, prefillMs, decodeMs, kvTokens,
// kvBytes, ... }.
//
// Calls the store cannot serve — JSON output, tools, or a chat template that renders the context differently
// once the call's messages follow — run through the wrapped model unchanged (the context is still in their
// prompt, so the answer is the same; only the reuse is lost), and say so in providerMetadata.presskv.
import type {
  LanguageModelV3CallOptions,
  LanguageModelV3Message,
  LanguageModelV3Middleware,
  LanguageModelV3Prompt,
  LanguageModelV3StreamPart,
  JSONValue,
  SharedV3ProviderMetadata,
  SharedV3ProviderOptions,
} from '@ai-sdk/provider';
import type { ChatMessage } from '../engine/chat-template.js';
import type { ContextStore } from '../engine/context-store.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { PressSpec } from '../engine/presses/base.js';
import {
  contextMessagesOf,
  contextPartOf,
  generateCall,
  planCall,
  presskvProviderOptionsSchema,
  storeContexts,
  storedMessagesOf,
  streamCall,
  toPromptMessage,
  type PlanSettings,
} from '../provider/index.js';

export interface ContextCacheMiddlewareOptions {
  /**
   * Where the context's KV cache lives (`await provider.contextStore(modelId)`, or `new ContextStore(model)`): the
   * middleware then answers calls from the store itself. Without it, the middleware only shapes each call's
   * prompt and provider options and the presskv provider does the storing and reuse (createPressKV's contextStore).
   * Both ways a call gets the same answer, usage and providerMetadata.presskv.
   */
  store?: ContextStore;
  /** The context: a text (it becomes the system message) or chat messages. Stored on first use. */
  context?: string | ChatMessage[];
  /** Or a context stored before (cacheContext, or the server's /v1/contexts). */
  contextId?: string;
  /** Press that compresses the context when it is stored. */
  press?: PressSpec;
  /** TTL of `context` once stored, in seconds. */
  ttlSeconds?: number;
}

export function contextCacheMiddleware(options: ContextCacheMiddlewareOptions): LanguageModelV3Middleware {
  if (options.context !== undefined && options.contextId !== undefined) {
    throw new InvalidArgumentError('contextCacheMiddleware takes `context` or `contextId`, not both (neither: the context is taken from each prompt)');
  }
  if (options.store === undefined) return providerSideMiddleware(options);
  const { store } = options;
  if (!store || typeof store.generate !== 'function') throw new InvalidArgumentError('contextCacheMiddleware needs a ContextStore as `store`');
  const stores = storeContexts(store);
  // Every context part is stored (the caller gave a store to fill); a fixed `context` is the marked prefix of each prompt.
  const settings: PlanSettings = { press: options.press, ttlSeconds: options.ttlSeconds, storeContextPart: true, contextId: options.contextId };
  const fixed = options.context === undefined ? undefined : markedPrefix(contextMessagesOf(options.context));
  let byId: Promise<LanguageModelV3Message[]> | undefined;
  // Looked up once; a failure (a deleted id) is reported by the call and retried by the next.
  const prefixOfId = (id: string): Promise<LanguageModelV3Message[]> => {
    byId ??= store.get(id).then(
      (info) => storedMessagesOf(info).map(toPromptMessage),
      (err: unknown) => {
        byId = undefined;
        throw err;
      },
    );
    return byId;
  };

  return {
    specificationVersion: 'v3',
    // The prompt carries the context, so a call the store cannot answer still gets it from the wrapped model.
    transformParams: async ({ params }) => {
      const prefix = fixed ?? (options.contextId === undefined ? undefined : await prefixOfId(options.contextId));
      return prefix ? { ...params, prompt: [...prefix, ...params.prompt] } : params;
    },
    wrapGenerate: async ({ doGenerate, params, model }) => {
      const planned = await planCall(store.model, params, stores, settings);
      if (planned.context) return generateCall(store.model, params, planned, model.modelId);
      const result = await doGenerate();
      return planned.skipped ? { ...result, providerMetadata: withSkipNote(result.providerMetadata, planned.skipped) } : result;
    },
    wrapStream: async ({ doStream, params, model }) => {
      const planned = await planCall(store.model, params, stores, settings);
      if (planned.context) return streamCall(store.model, params, planned, model.modelId);
      const result = await doStream();
      const { skipped } = planned;
      if (!skipped) return result;
      const noted = new TransformStream<LanguageModelV3StreamPart, LanguageModelV3StreamPart>({
        transform: (part, controller) =>
          controller.enqueue(part.type === 'finish' ? { ...part, providerMetadata: withSkipNote(part.providerMetadata, skipped) } : part),
      });
      return { ...result, stream: result.stream.pipeThrough(noted) };
    },
  };
}

/**
 * No store: the presskv provider stores and reuses contexts itself, through the same call pipeline. `context`
 * goes before the prompt with its last message marked as the cache breakpoint; with neither `context` nor
 * `contextId`, the last message of each prompt's context part is marked (the provider stores a marked part on
 * first sight and reads it after, as the store path does); `press` becomes providerOptions.presskv.press, and
 * `contextId` providerOptions.presskv.contextId.
 */
function providerSideMiddleware(options: ContextCacheMiddlewareOptions): LanguageModelV3Middleware {
  if (options.press !== undefined && !('press' in presskvProviderOptionsSchema.shape)) {
    throw new InvalidArgumentError(
      'contextCacheMiddleware: `press` needs `store` with this provider version (or store the context with provider.cacheContext({ press }) and pass its contextId)',
    );
  }
  if (options.ttlSeconds !== undefined) {
    throw new InvalidArgumentError('contextCacheMiddleware: `ttlSeconds` needs `store` (or use provider.cacheContext({ ttl }) and pass its contextId)');
  }
  const messages = options.context === undefined ? undefined : contextMessagesOf(options.context);
  const presskvOptions = (params: LanguageModelV3CallOptions, extra: Record<string, JSONValue>): SharedV3ProviderOptions => ({
    ...params.providerOptions,
    presskv: { ...(params.providerOptions?.presskv ?? {}), ...extra },
  });
  return {
    specificationVersion: 'v3',
    transformParams: async ({ params }): Promise<LanguageModelV3CallOptions> => {
      if (options.contextId !== undefined) return { ...params, providerOptions: presskvOptions(params, { contextId: options.contextId }) };
      const prompt = messages ? [...markedPrefix(messages), ...params.prompt] : withContextPartMarked(params.prompt);
      const extra = options.press !== undefined ? { providerOptions: presskvOptions(params, { press: options.press as never }) } : {};
      return { ...params, ...extra, prompt };
    },
  };
}

/** The prompt with the last message of its context part (DESIGN.md §5) marked as the cache breakpoint. */
function withContextPartMarked(prompt: LanguageModelV3Prompt): LanguageModelV3Prompt {
  const end = contextPartOf(prompt).length - 1;
  if (end < 0) return prompt;
  const message = prompt[end]!;
  const marked = { ...message, providerOptions: { ...message.providerOptions, presskv: { ...(message.providerOptions?.presskv ?? {}), cacheBreakpoint: true } } };
  return prompt.map((m, i) => (i === end ? marked : m)) as LanguageModelV3Prompt;
}

/** The context's messages as prompt messages, the last marked as the cache breakpoint (the context part ends there). */
function markedPrefix(messages: ChatMessage[]): LanguageModelV3Message[] {
  const prefix = messages.map(toPromptMessage);
  prefix[prefix.length - 1] = { ...prefix[prefix.length - 1]!, providerOptions: { presskv: { cacheBreakpoint: true } } };
  return prefix;
}

function withSkipNote(metadata: SharedV3ProviderMetadata | undefined, skipped: { contextId: string; reason: string }): SharedV3ProviderMetadata {
  return { ...metadata, presskv: { ...(metadata?.presskv ?? {}), contextId: skipped.contextId, cacheHit: false, cacheSkipped: skipped.reason } };
}
