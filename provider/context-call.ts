// A call answered from a stored (possibly compressed) context instead of prefilling its whole prompt.
// Which context: `providerOptions.presskv.contextId` (its messages go before the call's prompt, as Gemini's
// cachedContent does); else the prompt's context part (DESIGN.md §5: up to and including the last part marked
// `providerOptions.presskv.cacheBreakpoint` / `compress`, else everything before the final user message) when
// it is marked or the call names `providerOptions.presskv.press`: stored — compressed by that press — on first
// sight (a cache write) and read by every later call (the query-aware FinchPress stores it with the call's
// question, compressed together, and only calls whose prompt starts with that question read it); else, unmarked,
// the part before the final user message when a context with
// exactly those tokens is already stored, or else a stored context whose tokens start the prompt (automatic
// prefix caching: read only, nothing is written). Without a press named by the call, such a context may be
// uncompressed or compressed by any press (ContextStore.findPrefix: the longest, then the most recently used);
// providerMetadata.presskv says which (contextId, contextPress).
//
// The call's prompt is split into [context | question] on token ids when the full prompt's tokens start with
// the context's (then the model sees exactly the tokens it would without the cache), else on the rendered
// text. Calls the store cannot answer — constrained output (JSON, forced tool calls), tools in the template,
// a template that renders the context differently once more messages follow — run on the model as before,
// with the context in their prompt, and say why in providerMetadata.presskv.cacheSkipped.
//
// The presskv provider plans with its per-model stores and the call's providerOptions; contextCacheMiddleware
// ({ store }) plans with its one store (storeContexts) and PlanSettings (its press, TTL, contextId, and storing
// every context part). Either way the plan is answered by call-pipeline.ts (generateCall / streamCall).
import type { LanguageModelV3CallOptions, LanguageModelV3Message } from '@ai-sdk/provider';
import type { ChatMessage } from '../engine/chat-template.js';
import type { ContextInfo, ContextStore } from '../engine/context-store.js';
import { ContextNotFoundError } from '../engine/context-store.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { Model } from '../engine/model.js';
import type { PressSpec } from '../engine/presses/base.js';
import { cacheCallContext } from './cache-context.js';
import { contextPartOf, hasCacheMark } from './context-part.js';
import { renderContext } from './context-prompt.js';
import { convertPrompt } from './convert-prompt.js';
import { prepareCall, type PreparedCall } from './prepare-call.js';
import { parsePresskvOptions } from './provider-options.js';

/** The model's context store: `create` makes it on first need, `existing` only looks. */
export interface ContextStores {
  create(model: Model): ContextStore;
  existing(model: Model): ContextStore | undefined;
}

/** One given store for its model (contextCacheMiddleware({ store })). */
export function storeContexts(store: ContextStore): ContextStores {
  const only = (model: Model) => {
    if (model !== store.model) throw new InvalidArgumentError('This context store belongs to another model');
    return store;
  };
  return { create: only, existing: only };
}

/** How a caller that knows more than the call's providerOptions (contextCacheMiddleware) plans its calls. */
export interface PlanSettings {
  /** The press when the call names none (providerOptions.presskv.press wins). */
  press?: PressSpec;
  /** TTL, in seconds, of a context a call stores. */
  ttlSeconds?: number;
  /** Store the prompt's context part even when it is unmarked and no press is named (else it is only looked up). */
  storeContextPart?: boolean;
  /** The prompt already begins with the messages of this stored context (providerOptions.presskv.contextId puts them there). */
  contextId?: string;
}

export interface ContextRun {
  store: ContextStore;
  contextId: string;
  /** Token ids that follow the stored context. */
  question: number[];
  /** The context was stored by this call (its tokens are a cache write, not a read). */
  created: boolean;
}

export interface PlannedCall {
  call: PreparedCall;
  /** Set when the call runs on a stored context. */
  context?: ContextRun;
  /** Set when a context applied but the call runs on the model with its whole prompt. */
  skipped?: { contextId: string; reason: string };
}

export async function planCall(
  model: Model,
  options: LanguageModelV3CallOptions,
  stores: ContextStores | undefined,
  settings: PlanSettings = {},
): Promise<PlannedCall> {
  const presskv = parsePresskvOptions(options.providerOptions);
  const press = presskv.press ?? settings.press;
  const contextId = presskv.contextId ?? settings.contextId;
  if (contextId !== undefined) {
    if (!stores) throw new InvalidArgumentError('providerOptions.presskv.contextId needs a provider made by createPressKV');
    const store = stores.create(model);
    const info = await store.get(contextId);
    const messages = storedMessagesOf(info);
    // Named by the call, its messages go before the prompt; named by the caller's settings, the prompt has them.
    const prompt = presskv.contextId !== undefined ? [...messages.map(toPromptMessage), ...options.prompt] : options.prompt;
    return split(store, prepareCall(model, { ...options, prompt }), info.id, messages, false);
  }

  // A mark, or a press (which compresses the context once, for every call that shares it), stores the context part.
  const storing = press !== undefined || settings.storeContextPart === true || hasCacheMark(options.prompt);
  const part = contextPartOf(options.prompt);
  if (part.length === 0 || !stores) {
    const call = prepareCall(model, options);
    if (press !== undefined) {
      call.warnings.push({
        type: 'other',
        message: 'providerOptions.presskv.press: the prompt has no context part to compress (mark one with cacheBreakpoint, or put it before the final user message); nothing was compressed',
      });
    }
    return { call };
  }
  const messages = convertPrompt(part).messages;
  if (storing) {
    const store = stores.create(model);
    const call = prepareCall(model, options);
    // Not stored at all when this call could not use it (the next call may).
    const rendered = renderContext(model, messages);
    const asked = questionOf(model, call, rendered);
    if ('skip' in asked) return { call, skipped: { contextId: store.idOf(rendered.tokenIds, press), reason: asked.skip } };
    // A query-aware press (Finch) stores the context with this question and leaves nothing to feed after it.
    const stored = await cacheCallContext(store, {
      messages,
      rendered,
      press,
      ttlSeconds: settings.ttlSeconds,
      question: asked.question,
      signal: options.abortSignal,
    });
    return { call, context: { store, contextId: stored.context.id, question: stored.question, created: stored.context.created } };
  }

  const store = stores.existing(model);
  const call = prepareCall(model, options);
  if (!store) return { call };
  const info = await storedContextOf(store, renderContext(model, messages).tokenIds, press);
  if (info) return split(store, call, info.id, messages, false);
  // A context stored from token ids (e.g. over HTTP) whose tokens begin this prompt.
  const prefix = store.findPrefix(call.promptTokenIds, press);
  if (prefix && !unservable(call)) {
    return { call, context: { store, contextId: prefix.id, question: call.promptTokenIds.slice(prefix.tokensBefore), created: false } };
  }
  return { call };
}

/**
 * The stored context with exactly these tokens: made with the call's press when it names one; else any
 * (uncompressed or compressed by any press), the most recently used (automatic reuse of compressed contexts).
 */
async function storedContextOf(store: ContextStore, tokenIds: number[], press: PressSpec | undefined): Promise<ContextInfo | undefined> {
  if (press !== undefined) {
    return store.get(store.idOf(tokenIds, press)).catch((err: unknown) => {
      if (err instanceof ContextNotFoundError) return undefined;
      throw err;
    });
  }
  await store.list(); // brings in the descriptions of contexts persisted in a cacheDir
  const found = store.findPrefix(tokenIds);
  return found?.tokensBefore === tokenIds.length ? found : undefined;
}

function split(store: ContextStore, call: PreparedCall, contextId: string, messages: ChatMessage[], created: boolean): PlannedCall {
  const asked = questionOf(store.model, call, renderContext(store.model, messages));
  if ('skip' in asked) return { call, skipped: { contextId, reason: asked.skip } };
  return { call, context: { store, contextId, question: asked.question, created } };
}

/** The call's question: the token ids its prompt adds after the rendered context, or why the store cannot answer it. */
function questionOf(model: Model, call: PreparedCall, context: { text: string; tokenIds: number[] }): { question: number[] } | { skip: string } {
  const why = unservable(call);
  if (why) return { skip: why };
  const n = context.tokenIds.length;
  if (n <= call.promptTokenIds.length && context.tokenIds.every((t, i) => call.promptTokenIds[i] === t)) {
    return { question: call.promptTokenIds.slice(n) };
  }
  if (!call.promptText.startsWith(context.text)) {
    return { skip: "the chat template renders the context differently when the call's messages follow it" };
  }
  const rest = call.promptText.slice(context.text.length);
  return { question: rest ? model.tokenizer.encode(rest, { addSpecialTokens: false }) : [] };
}

/** Why the store cannot answer this call (it generates free text only), if it cannot. */
function unservable(call: PreparedCall): string | undefined {
  if (call.grammar) return 'constrained output (JSON or a forced tool call) runs on the model with the whole prompt';
  if (call.toolNames.size > 0) return 'calls with tools run on the model with the whole prompt';
  return undefined;
}

/** The messages a stored context was made from (what goes before a call's prompt that names it). */
export function storedMessagesOf(info: ContextInfo): ChatMessage[] {
  const meta = info.meta as { messages?: ChatMessage[] } | null;
  if (!meta || !Array.isArray(meta.messages)) {
    throw new InvalidArgumentError(`Context ${info.id} has no context messages to put before the call's prompt (it was stored from raw token ids, or with its question by a query-aware press such as FinchPress)`);
  }
  return meta.messages;
}

/** A stored context's chat message as a prompt message (the provider turns it back into the same chat message). */
export function toPromptMessage(message: ChatMessage): LanguageModelV3Message {
  const text = message.content ?? '';
  if (message.role === 'system') return { role: 'system', content: text };
  if (message.role === 'assistant') return { role: 'assistant', content: [{ type: 'text', text }] };
  return { role: 'user', content: [{ type: 'text', text }] };
}
