// pressMiddleware({ press, store }): compresses the context part of every call's prompt with a press and
// answers the question on top of the compressed KV cache, for `wrapLanguageModel` (AI SDK 6).
//   - The context part (DESIGN.md §5): up to and including the last message or part marked
//     providerOptions.presskv.cacheBreakpoint (or compress: true); unmarked, everything before the final
//     user message. The question (the rest) is never compressed — except by the query-aware FinchPress.
//   - providerOptions.presskv.press sets the press for one call (a name, { name, ...options } or a Press).
//   - A context is compressed once per (model, context tokens, press) and kept in the store: every further
//     question on it forks the kept compressed cache (kvpress pipeline semantics: compress once, ask many).
//     FinchPress (kvpress §2.3) compresses context + question together, its window the question, and keeps
//     that per (context, question): only the same question reuses it.
//   - providerMetadata.presskv: { tokensBefore (context tokens), tokensAfter (slots kept per (layer, kv-head),
//     on average), bytesAfter (the compressed context's KV bytes), bytesBefore (when the store reports it),
//     press (class name), prefillMs, contextId, cacheHit }.
// Built on contextCacheMiddleware's automatic mode; calls it cannot serve (tools, JSON output) run on the
// model uncompressed and say so in providerMetadata.presskv.cacheSkipped.
import type {
  LanguageModelV3CallOptions,
  LanguageModelV3GenerateResult,
  LanguageModelV3Middleware,
  LanguageModelV3StreamPart,
  SharedV3ProviderMetadata,
} from '@ai-sdk/provider';
import { z } from 'zod';
import type { ContextStore } from '../engine/context-store.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { Model } from '../engine/model.js';
import { Press, type PressSpec } from '../engine/presses/base.js';
import { pressSpecSchema } from '../engine/presses/prepare.js';
import { createPress } from '../engine/presses/registry.js';
import { PressContextStore } from '../provider/index.js';
import { contextCacheMiddleware } from './context-cache-middleware.js';

export interface PressMiddlewareOptions {
  /** The press for every call (a call's providerOptions.presskv.press overrides it). None: calls without a press option pass through. */
  press?: PressSpec;
  /**
   * Where compressed contexts are kept: a ContextStore of the wrapped model, or the engine Model itself
   * (then a PressContextStore is made for it). A PressContextStore also keys TypeScript scorers.
   */
  store: ContextStore | Model;
  /** TTL of a kept compressed context, in seconds. */
  ttlSeconds?: number;
}

const callPressSchema = z.object({ press: pressSpecSchema.optional() }).loose();

export function pressMiddleware(options: PressMiddlewareOptions): LanguageModelV3Middleware {
  if (!options || options.store === undefined) throw new InvalidArgumentError('pressMiddleware needs `store`: a ContextStore or the engine Model');
  // A bad default press fails now, not at the first call.
  if (options.press !== undefined) createPress(options.press);
  const store = options.store instanceof PressContextStore || isContextStore(options.store) ? options.store : new PressContextStore(options.store as Model);
  const byPress = new Map<unknown, LanguageModelV3Middleware>();
  const callPress = new WeakMap<LanguageModelV3CallOptions, PressSpec>();

  const middlewareFor = (press: PressSpec): LanguageModelV3Middleware => {
    // Press instances by identity (their scorer may be a function); specs by their canonical press config.
    const key = press instanceof Press ? press : JSON.stringify(createPress(press).toJSON());
    let middleware = byPress.get(key);
    if (!middleware) byPress.set(key, (middleware = contextCacheMiddleware({ store, press, ttlSeconds: options.ttlSeconds })));
    return middleware;
  };

  return {
    specificationVersion: 'v3',
    // The call's press is taken out of providerOptions here (the provider refuses keys it does not know).
    transformParams: async ({ params }) => {
      const raw = params.providerOptions?.presskv;
      if (raw === undefined || !('press' in raw)) return params;
      const parsed = callPressSchema.safeParse(raw);
      if (!parsed.success) throw new InvalidArgumentError(`Invalid providerOptions.presskv.press: ${z.prettifyError(parsed.error).replace(/\n+/g, '; ')}`);
      const { press, ...rest } = raw as Record<string, unknown>;
      const next: LanguageModelV3CallOptions = { ...params, providerOptions: { ...params.providerOptions, presskv: rest as never } };
      if (Object.keys(rest).length === 0) delete next.providerOptions!.presskv;
      if (parsed.data.press !== undefined) {
        createPress(parsed.data.press);
        callPress.set(next, press as PressSpec);
      }
      return next;
    },
    wrapGenerate: async (args) => {
      const press = callPress.get(args.params) ?? options.press;
      if (press === undefined) return args.doGenerate();
      const result = (await middlewareFor(press).wrapGenerate!(args)) as LanguageModelV3GenerateResult;
      return { ...result, providerMetadata: withPressMetadata(result.providerMetadata, press) };
    },
    wrapStream: async (args) => {
      const press = callPress.get(args.params) ?? options.press;
      if (press === undefined) return args.doStream();
      const result = await middlewareFor(press).wrapStream!(args);
      const stream = result.stream.pipeThrough(
        new TransformStream<LanguageModelV3StreamPart, LanguageModelV3StreamPart>({
          transform(part, controller) {
            controller.enqueue(part.type === 'finish' ? { ...part, providerMetadata: withPressMetadata(part.providerMetadata, press) } : part);
          },
        }),
      );
      return { ...result, stream };
    },
  };
}

function isContextStore(value: unknown): value is ContextStore {
  return typeof (value as ContextStore)?.create === 'function' && typeof (value as ContextStore)?.generate === 'function';
}

function withPressMetadata(metadata: SharedV3ProviderMetadata | undefined, press: PressSpec): SharedV3ProviderMetadata {
  const presskv = { ...(metadata?.presskv ?? {}) } as Record<string, unknown>;
  if (typeof presskv.bytes === 'number') presskv.bytesAfter = presskv.bytes;
  presskv.press = createPress(press).toNativeConfig().name;
  return { ...metadata, presskv: presskv as SharedV3ProviderMetadata[string] };
}
