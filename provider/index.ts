// The provider floor's public surface. Middleware reaches the provider only through this file, the way AI SDK
// middleware sees only a provider's published API, so what is not exported here stays free to change.
export { createPressKV, presskv } from './create-presskv.js';
export type { PressKVProvider, PressKVProviderSettings, PressKVModelSettings } from './create-presskv.js';
export { PressKVLanguageModel } from './language-model.js';
export type { CacheContextSettings, ProviderCachedContext } from './provider-contexts.js';
export { presskvProviderOptionsSchema, type PressKVProviderOptions } from './provider-options.js';

// Stored contexts: how a prompt's context part is chosen, rendered and stored (the provider and the context
// middleware must agree on all three for one to reuse what the other stored).
export { contextPartOf } from './context-part.js';
export { renderContext, renderConversation, questionAfterContext } from './context-prompt.js';
export { cacheContext, contextMessagesOf, type CacheContextOptions, type CachedContext } from './cache-context.js';
export { PressContextStore } from './press-context-store.js';

// The one pipeline that answers a call, from a stored context or from its whole prompt: the provider runs every
// call through it, and contextCacheMiddleware({ store }) runs its calls through it with its own store and settings,
// so both report the same text, usage (cacheRead / cacheWrite) and providerMetadata.presskv.
export { planCall, storeContexts, storedMessagesOf, toPromptMessage } from './context-call.js';
export type { ContextRun, ContextStores, PlanSettings, PlannedCall } from './context-call.js';
export { generateCall, streamCall } from './call-pipeline.js';
