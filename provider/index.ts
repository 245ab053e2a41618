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
export { cacheContext, cacheCallContext, contextMessagesOf, type CacheContextOptions, type CachedContext, type CallContext } from './cache-context.js';
export { PressContextStore } from './press-context-store.js';

// One call's building blocks, for middleware that answers a call from a context store as the provider would.
export { convertPrompt } from './convert-prompt.js';
export { prepareCall, type PreparedCall } from './prepare-call.js';
export { OutputSegmenter, type Segment } from './output-segments.js';
export { mapFinishReason } from './finish-reason.js';
