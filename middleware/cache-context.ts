// cacheContext(store, { context | messages, press, ttlSeconds, name }): renders a context the way it will
// begin later prompts (chat template, no generation prompt), prefills it — compressed by `press` — into the
// store, and returns its id and figures. An equal context (same model, text and press) is stored once.
import type { ChatMessage } from '../engine/chat-template.js';
import type { ContextInfo, ContextStore } from '../engine/context-store.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { PressSpec } from '../engine/presses/base.js';
import { renderContext } from '../server/chat-prompt-split.js';

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
  /** Set once a call has reported the write in its usage. */
  reported?: boolean;
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
  const messages = contextMessagesOf(source);
  const rendered = renderContext(store.model, messages);
  const info = await store.create({
    tokenIds: rendered.tokenIds,
    press: options.press,
    ttlSeconds: options.ttlSeconds,
    name: options.name,
    meta: { messages, text: rendered.text },
    signal: options.signal,
  });
  const { existed, ...rest } = info;
  return { ...rest, messages, text: rendered.text, created: !existed };
}
