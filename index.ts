// presskv's public API: the AI SDK provider, the engine it runs on, and the helpers around them.
export { createPressKV, presskv, PressKVLanguageModel, presskvProviderOptionsSchema } from './provider/index.js';
export type { PressKVProvider, PressKVProviderSettings, PressKVModelSettings, PressKVProviderOptions } from './provider/index.js';
export type { CacheContextSettings, ProviderCachedContext } from './provider/index.js';

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
export { cacheContext, type CacheContextOptions, type CachedContext } from './provider/index.js';
// Presses on the AI SDK path: the context part of each prompt compressed once, the question never.
export { pressMiddleware, type PressMiddlewareOptions } from './middleware/press-middleware.js';
export { PressContextStore } from './provider/index.js';
export { createPressKVApp, type PressKVAppOptions } from './server/app.js';
export { startServer, type ServeOptions, type RunningServer } from './server/serve.js';
