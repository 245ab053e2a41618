// cacheContext(store, { context | messages, press, ttlSeconds, name }): renders a context the way it will
// begin later prompts (chat template, no generation prompt), prefills it — compressed by `press` — into the
// store, and returns its id and figures. An equal context (same model, text and press) is stored once.
// cacheCallContext does it for one call whose question is known, where a query-aware press (FinchPress)
// compresses the context together with that question.
import type { ChatMessage } from '../engine/chat-template.js';
import type { ContextInfo, ContextStore } from '../engine/context-store.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { PressSpec } from '../engine/presses/base.js';
import { pressPrefillPlan } from '../engine/presses/finch.js';
import { renderContext } from './context-prompt.js';

export interface CacheContextOptions {
  /** A document or instructions: stored as the system message. */
  context?: string | ChatMessage[];
  /** Or the conversation prefix as chat messages. */
  messages?: ChatMessage[];
  press?: PressSpec;
  ttlSeconds?: number;
  name?: string;
  signal?: AbortSignal;
}

export interface CachedContext extends ContextInfo {
  /** The context's messages and their rendered text (the prefix later prompts must start with). */
  messages: ChatMessage[];
  text: string;
  /** True when this call stored it (false: it was stored already). */
  created: boolean;
}

export function contextMessagesOf(context: string | ChatMessage[]): ChatMessage[] {
  if (typeof context === 'string') {
    if (context.length === 0) throw new InvalidArgumentError('The context is empty');
    return [{ role: 'system', content: context }];
  }
  if (!Array.isArray(context) || context.length === 0) throw new InvalidArgumentError('The context needs at least one message');
  return context.map((m) => ({ ...m }));
}

export async function cacheContext(store: ContextStore, options: CacheContextOptions): Promise<CachedContext> {
  const source = options.messages ?? options.context;
  if (source === undefined || (options.messages !== undefined && options.context !== undefined)) {
    throw new InvalidArgumentError('cacheContext needs exactly one of `context` or `messages`');
  }
  return (await storeContext(store, contextMessagesOf(source), undefined, options)).context;
}

export interface CallContext {
  /** What is stored: the context, or (query-aware press) the context with this call's question. */
  context: CachedContext;
  /** Token ids to feed after the stored tokens: the question, or nothing when it was compressed with the context. */
  question: number[];
}

/**
 * The stored context one call runs on, its question's token ids known. Most presses compress the context alone
 * (as cacheContext; every question on it shares it). A query-aware press — FinchPress, kvpress §2.3 — compresses
 * context + question in one prefill, its window the question (pressPrefillPlan, as `presskv generate` does):
 * what it keeps is chosen for that question, so it is stored under the context's and the question's tokens
 * together (a repeat of the same call reuses it, another question never does).
 */
export async function cacheCallContext(
  store: ContextStore,
  options: Omit<CacheContextOptions, 'context' | 'messages'> & {
    messages: ChatMessage[];
    question: readonly number[];
    /** renderContext(store.model, messages), when the caller has it already (a long context is not tokenized twice). */
    rendered?: { text: string; tokenIds: number[] };
  },
): Promise<CallContext> {
  return storeContext(store, contextMessagesOf(options.messages), options.question, options);
}

async function storeContext(
  store: ContextStore,
  messages: ChatMessage[],
  question: readonly number[] | undefined,
  options: Pick<CacheContextOptions, 'press' | 'ttlSeconds' | 'name' | 'signal'> & { rendered?: { text: string; tokenIds: number[] } },
): Promise<CallContext> {
  const rendered = options.rendered ?? renderContext(store.model, messages);
  const plan = question === undefined || options.press === undefined ? undefined : pressPrefillPlan(options.press, rendered.tokenIds, question);
  const withQuestion = plan !== undefined && plan.afterIds.length === 0;
  const info = await store.create({
    tokenIds: withQuestion ? plan.prefillIds : rendered.tokenIds,
    press: withQuestion ? plan.press : options.press,
    ttlSeconds: options.ttlSeconds,
    name: options.name,
    // Stored with its question, it has no context messages that a later call could put its own messages after.
    meta: withQuestion ? { questionAware: true, contextText: rendered.text, questionTokens: question!.length } : { messages, text: rendered.text },
    signal: options.signal,
  });
  const { existed, ...stored } = info;
  return { context: { ...stored, messages, text: rendered.text, created: !existed }, question: withQuestion ? [] : [...(question ?? [])] };
}
