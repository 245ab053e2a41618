// presskv's public API: the AI SDK provider, the engine it runs on, and the helpers around them.
export { createPressKV, presskv } from './provider/create-presskv.js';
export type { PressKVProvider, PressKVProviderSettings, PressKVModelSettings } from './provider/create-presskv.js';
export { PressKVLanguageModel } from './provider/language-model.js';
export type { CacheContextSettings, ProviderCachedContext } from './provider/provider-contexts.js';
export { presskvProviderOptionsSchema, type PressKVProviderOptions } from './provider/provider-options.js';

export * from './engine/index.js';
export type { TextTokenizer, TokenizerKind } from './engine/tokenizer.js';
export { renderChatTemplate, templateSupportsTools, templateSupportsThinking } from './engine/chat-template.js';
export type { ChatMessage, ChatTool, ChatToolCall, RenderChatTemplateOptions } from './engine/chat-template.js';
export { resolveModelPath, parseHubId, hubModelDir, defaultHubCacheDir, type ResolveModelOptions } from './engine/hub.js';
export { makeModel, SHAPE_NAMES, type MakeModelOptions, type MadeModel, type ShapeName } from './engine/make-model/index.js';
export { SUPPORTED_ARCHITECTURES, type Architecture, type ModelConfig, type ModelSpec, type WeightDType } from './engine/model-spec.js';

// KV-cache presses (kvpress catalogue): classes, registry, preparePress.
export * from './engine/presses/index.js';

// Constrained decoding, for callers that drive a Session step by step themselves.
export { GrammarMatcher, type Grammar, type AllowedTokens } from './engine/constrained/grammar-matcher.js';
export { jsonGrammar, toolCallGrammar, type ToolCallFormat } from './engine/constrained/grammars.js';
export { constrainedDecode, type ConstrainedDecodeOptions, type ConstrainedDecodeResult } from './engine/constrained/constrained-decode.js';
export { validateJson } from './engine/constrained/validate-json.js';

// Compressed contexts: stored once, reused by many calls, across restarts and over HTTP.
export { ContextStore, ContextNotFoundError } from './engine/context-store.js';
export type { ContextStoreOptions, ContextInfo, CreateContextInput, CreateContextResult, ContextGenerateResult, ContextUse } from './engine/context-store.js';
export { CorruptContextFileError, ContextFileMismatchError } from './engine/context-file.js';
export { contextCacheMiddleware, type ContextCacheMiddlewareOptions } from './middleware/context-cache-middleware.js';
export { cacheContext, type CacheContextOptions, type CachedContext } from './middleware/cache-context.js';
// Presses on the AI SDK path: the context part of each prompt compressed once, the question never.
export { pressMiddleware, type PressMiddlewareOptions } from './middleware/press-middleware.js';
export { PressContextStore } from './middleware/press-context-store.js';
export { createPressKVApp, type PressKVAppOptions } from './server/app.js';
export { startServer, type ServeOptions, type RunningServer } from './server/serve.js';
