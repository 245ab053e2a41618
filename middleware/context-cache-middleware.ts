// contextCacheMiddleware({ store, context | contextId }): puts a context (a document, a system prompt) before
// every call's prompt and answers from its stored — and, with a press, compressed — KV cache, so each call
// prefills only its own messages. With neither, the context is taken from each call's own prompt (DESIGN.md
// §5): up to and including the last message marked `providerOptions.presskv.cacheBreakpoint` (or
// `compress: true`, on the message or one of its parts), else everything before the final user message; it
// is stored on first sight and reused by every later call whose prompt starts the same way (with the query-aware
// FinchPress: stored with each call's question, compressed together, and reused by that question only). Usage reports the reuse the way hosted providers report prompt caching
// (inputTokens.cacheRead / cacheWrite) and providerMetadata.presskv = { contextId, tokensBefore, tokensAfter,
// bytes, cacheHit, prefillMs }.
//
// Calls the store cannot serve — JSON output, tools, or a chat template that renders the context differently
// once the call's messages follow — run through the wrapped model unchanged (the context is still in their
// prompt, so the answer is the same; only the reuse is lost), and say so in providerMetadata.presskv.
import { randomUUID } from 'node:crypto';
import type {
  LanguageModelV3CallOptions,
  LanguageModelV3Content,
  LanguageModelV3GenerateResult,
  LanguageModelV3Message,
  LanguageModelV3Middleware,
  LanguageModelV3StreamPart,
  LanguageModelV3Usage,
  JSONValue,
  SharedV3ProviderOptions,
} from '@ai-sdk/provider';
import type { ChatMessage } from '../engine/chat-template.js';
import type { ContextGenerateResult, ContextStore } from '../engine/context-store.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { PressSpec } from '../engine/presses/base.js';
import {
  cacheCallContext,
  contextMessagesOf,
  contextPartOf,
  convertPrompt,
  mapFinishReason,
  OutputSegmenter,
  prepareCall,
  presskvProviderOptionsSchema,
  renderContext,
  type CachedContext,
  type PreparedCall,
  type Segment,
} from '../provider/index.js';

export interface ContextCacheMiddlewareOptions {
  /**
   * Where the context's KV cache lives (`await provider.contextStore(modelId)`, or `new ContextStore(model)`): the
   * middleware then answers calls from the store itself. Without it, the middleware only shapes each call's
   * prompt and provider options and the presskv provider does the storing and reuse (createPressKV's contextStore).
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
  const automatic = options.context === undefined && options.contextId === undefined;
  const fixedMessages = options.context === undefined ? undefined : contextMessagesOf(options.context);
  let byId: Promise<CachedContext> | undefined;
  // Looked up once; a failure (a deleted id) is reported by the call and retried by the next.
  const contextOfId = (id: string): Promise<CachedContext> => {
    byId ??= contextById(store, id).catch((err: unknown) => {
      byId = undefined;
      throw err;
    });
    return byId;
  };

  // What a call runs on: a stored context named by id, or the context's messages (the fixed `context`, or in
  // automatic mode the prompt's own context part) stored on first use and reused by every later call (the store
  // dedups by key) — with the call's question when the press is query-aware (Finch). A call the store cannot
  // answer stores nothing.
  const serve = async (params: LanguageModelV3CallOptions): Promise<Served | undefined> => {
    if (options.contextId !== undefined) {
      const ctx = await contextOfId(options.contextId);
      const plan = planCall(store, ctx.text, params);
      return 'skip' in plan ? { contextId: ctx.id, skip: plan.skip } : { ctx, ...plan };
    }
    const part = automatic ? contextPartOf(params.prompt) : [];
    if (automatic && part.length === 0) return undefined;
    const messages = fixedMessages ?? convertPrompt(part).messages;
    const rendered = renderContext(store.model, messages);
    const plan = planCall(store, rendered.text, params);
    if ('skip' in plan) return { contextId: store.idOf(rendered.tokenIds, options.press), skip: plan.skip };
    const stored = await cacheCallContext(store, { messages, rendered, press: options.press, ttlSeconds: options.ttlSeconds, question: plan.question });
    return { ctx: stored.context, call: plan.call, question: stored.question };
  };

  return {
    specificationVersion: 'v3',
    transformParams: async ({ params }) => {
      if (automatic) return params;
      const messages = fixedMessages ?? (await contextOfId(options.contextId!)).messages;
      return { ...params, prompt: [...messages.map(toPromptMessage), ...params.prompt] };
    },
    wrapGenerate: async ({ doGenerate, params }) => {
      const plan = await serve(params);
      if (!plan) return doGenerate();
      if ('skip' in plan) return withSkipNote(await doGenerate(), plan.contextId, plan.skip);
      const { ctx } = plan;
      const result = await store.generate(ctx.id, plan.question, generateOptions(plan.call, params.abortSignal));
      if (result.finishReason === 'abort') params.abortSignal?.throwIfAborted();
      const segmenter = segmenterOf(plan.call);
      const content: LanguageModelV3Content[] = [];
      for (const s of [...segmenter.push(result.text), ...segmenter.end()]) {
        if (s.kind === 'text') content.push({ type: 'text', text: s.text });
        else if (s.kind === 'reasoning') content.push({ type: 'reasoning', text: s.text });
      }
      return {
        content,
        finishReason: mapFinishReason(result.finishReason, result.rawFinishReason, false),
        usage: usageOf(result, ctx),
        providerMetadata: { presskv: metadataOf(result, ctx) },
        request: { body: { contextId: ctx.id, questionTokens: plan.question.length } },
        response: { id: `presskv-${randomUUID()}`, timestamp: new Date() },
        warnings: plan.call.warnings,
      } satisfies LanguageModelV3GenerateResult;
    },
    wrapStream: async ({ doStream, params }) => {
      const plan = await serve(params);
      if (!plan || 'skip' in plan) return doStream();
      const { ctx, call, question } = plan;
      const stream = new ReadableStream<LanguageModelV3StreamPart>({
        start: (controller) => {
          controller.enqueue({ type: 'stream-start', warnings: call.warnings });
          controller.enqueue({ type: 'response-metadata', id: `presskv-${randomUUID()}`, timestamp: new Date() });
          const segmenter = segmenterOf(call);
          let open: { kind: 'text' | 'reasoning'; id: string } | null = null;
          let blocks = 0;
          const close = () => {
            if (open) controller.enqueue({ type: open.kind === 'text' ? 'text-end' : 'reasoning-end', id: open.id });
            open = null;
          };
          const emit = (segments: Segment[]) => {
            for (const s of segments) {
              if (s.kind === 'tool-call') continue;
              if (open?.kind !== s.kind) {
                close();
                open = { kind: s.kind, id: String(blocks++) };
                controller.enqueue({ type: s.kind === 'text' ? 'text-start' : 'reasoning-start', id: open.id });
              }
              controller.enqueue({ type: s.kind === 'text' ? 'text-delta' : 'reasoning-delta', id: open.id, delta: s.text });
            }
          };
          store.generate(ctx.id, question, { ...generateOptions(call, params.abortSignal), onText: (delta) => emit(segmenter.push(delta)) }).then(
            (result) => {
              emit(segmenter.end());
              close();
              controller.enqueue({
                type: 'finish',
                finishReason: mapFinishReason(result.finishReason, result.rawFinishReason, false),
                usage: usageOf(result, ctx),
                providerMetadata: { presskv: metadataOf(result, ctx) },
              });
              controller.close();
            },
            (error: unknown) => {
              close();
              controller.enqueue({ type: 'error', error });
              controller.close();
            },
          );
        },
      });
      return { stream, request: { body: { contextId: ctx.id, questionTokens: question.length } } };
    },
  };
}

/**
 * No store: the presskv provider stores and reuses contexts itself. `context` goes before the prompt with its
 * last message marked as the cache breakpoint (the provider stores it on first sight and reads it after);
 * `contextId` becomes providerOptions.presskv.contextId; neither passes calls through (the provider reuses a
 * stored context part of any prompt by itself).
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
      if (!messages) return params;
      const prefix = messages.map(toPromptMessage);
      prefix[prefix.length - 1] = { ...prefix[prefix.length - 1]!, providerOptions: { presskv: { cacheBreakpoint: true } } };
      const extra = options.press !== undefined ? { providerOptions: presskvOptions(params, { press: options.press as never }) } : {};
      return { ...params, ...extra, prompt: [...prefix, ...params.prompt] };
    },
  };
}

async function contextById(store: ContextStore, id: string): Promise<CachedContext> {
  const info = await store.get(id);
  const meta = info.meta as { messages?: ChatMessage[]; text?: string } | null;
  if (!meta || !Array.isArray(meta.messages) || typeof meta.text !== 'string') {
    throw new InvalidArgumentError(`Context ${id} has no context messages to put before a call's prompt (it was stored from raw token ids, or with its question by a query-aware press such as FinchPress)`);
  }
  return { ...info, messages: meta.messages, text: meta.text, created: false };
}

type Plan = { call: PreparedCall; question: number[] } | { skip: string };
type Served = { ctx: CachedContext; call: PreparedCall; question: number[] } | { contextId: string; skip: string };

/** The call's prompt (context messages already in front) split into [context, rendered as contextText | question tokens]. */
function planCall(store: ContextStore, contextText: string, params: LanguageModelV3CallOptions): Plan {
  const call = prepareCall(store.model, params);
  if (call.grammar) return { skip: 'constrained output (JSON or a forced tool call) runs on the model directly' };
  if (call.toolNames.size > 0) return { skip: 'calls with tools run on the model directly' };
  if (!call.promptText.startsWith(contextText)) return { skip: "the chat template renders the context differently when the call's messages follow it" };
  const rest = call.promptText.slice(contextText.length);
  const question = rest ? store.model.tokenizer.encode(rest, { addSpecialTokens: false }) : [];
  return { call, question };
}

function generateOptions(call: PreparedCall, signal: AbortSignal | undefined) {
  return {
    ...call.sampling,
    maxTokens: Math.max(1, call.maxTokens),
    stopSequences: call.stopSequences.length ? call.stopSequences : undefined,
    signal,
  };
}

function segmenterOf(call: PreparedCall): OutputSegmenter {
  return new OutputSegmenter({ thinking: call.thinking, startInReasoning: call.startInReasoning, toolCalls: false });
}

function usageOf(result: ContextGenerateResult, ctx: CachedContext): LanguageModelV3Usage {
  const total = result.usage.inputTokens;
  // The call that stored the context wrote it; every later call reads it (hosted providers report the same way).
  const cacheRead = ctx.created && !ctx.reported ? 0 : result.context.cachedTokens;
  const cacheWrite = ctx.created && !ctx.reported ? result.context.tokensBefore : result.context.cacheHit ? 0 : result.context.tokensBefore;
  ctx.reported = true;
  const output = result.usage.outputTokens;
  return {
    inputTokens: { total, noCache: total - cacheRead, cacheRead, cacheWrite },
    outputTokens: { total: output, text: output, reasoning: 0 },
  };
}

function metadataOf(result: ContextGenerateResult, ctx: CachedContext) {
  return {
    contextId: ctx.id,
    tokensBefore: result.context.tokensBefore,
    tokensAfter: result.context.tokensAfter,
    bytes: result.context.bytes,
    bytesBefore: result.context.bytesBefore,
    cacheHit: result.context.cacheHit,
    prefillMs: result.context.prefillMs,
    compressed: ctx.compressed,
  };
}

function withSkipNote(result: LanguageModelV3GenerateResult, contextId: string, why: string): LanguageModelV3GenerateResult {
  return {
    ...result,
    providerMetadata: { ...result.providerMetadata, presskv: { ...(result.providerMetadata?.presskv ?? {}), contextId, cacheHit: false, cacheSkipped: why } },
  };
}

/** A chat message as an AI SDK prompt message (the provider turns it back into the same chat message). */
function toPromptMessage(message: ChatMessage): LanguageModelV3Message {
  const text = message.content ?? '';
  if (message.role === 'system') return { role: 'system', content: text };
  if (message.role === 'assistant') return { role: 'assistant', content: [{ type: 'text', text }] };
  return { role: 'user', content: [{ type: 'text', text }] };
}
