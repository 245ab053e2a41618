// OpenAI chat messages → the model's token ids, split into [context | question] (DESIGN.md §5): a stored
// context's messages come first and are rendered alone (no generation prompt) into the context's tokens;
// the request's messages are what the full conversation's rendering adds after that text.
import { renderChatTemplate, type ChatMessage } from '../engine/chat-template.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { Model } from '../engine/model.js';
import { buildChatPrompt } from '../provider/chat-prompt.js';
import { rawPromptText } from '../provider/convert-prompt.js';
import type { ChatMessageInput } from './schemas.js';

export function toChatMessages(messages: readonly ChatMessageInput[]): ChatMessage[] {
  return messages.map((m) => {
    const content = m.content === null || m.content === undefined ? '' : typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('\n');
    // Chat templates know system, user and assistant; OpenAI's developer role is its newer name for system.
    return { role: m.role === 'developer' ? 'system' : m.role, content };
  });
}

/** A context given as a plain string is a document: the system message every later question reads. */
export function contextMessagesOf(content: string | readonly ChatMessageInput[]): ChatMessage[] {
  return typeof content === 'string' ? [{ role: 'system', content }] : toChatMessages(content);
}

/** The text and token ids of context messages alone, as they begin every prompt that follows them. */
export function renderContext(model: Model, messages: ChatMessage[]): { text: string; tokenIds: number[] } {
  const template = model.chatTemplate;
  if (!template) {
    const text = rawPromptText(messages);
    return { text, tokenIds: model.tokenizer.encode(text, { addSpecialTokens: true }) };
  }
  const { tokenizer, info } = model;
  const text = renderChatTemplate(template, {
    messages,
    addGenerationPrompt: false,
    bosToken: info.bosTokenId !== undefined ? tokenizer.tokenPiece(info.bosTokenId) : undefined,
    eosToken: info.eosTokenIds.length ? tokenizer.tokenPiece(info.eosTokenIds[0]!) : undefined,
  });
  return { text, tokenIds: tokenizer.encode(text, { addSpecialTokens: false }) };
}

/** The whole conversation's prompt (with the generation prompt), as the provider builds it. */
export function renderConversation(model: Model, messages: ChatMessage[]): { text: string; tokenIds: number[] } {
  const prompt = buildChatPrompt(model, { messages });
  return { text: prompt.text, tokenIds: prompt.tokenIds };
}

/**
 * Token ids of what the request adds after a context whose rendered text is contextText. Errors when the
 * chat template renders the context differently once more messages follow (then it cannot be reused).
 */
export function questionAfterContext(model: Model, contextMessages: ChatMessage[], contextText: string, requestMessages: ChatMessage[]): number[] {
  const full = renderConversation(model, [...contextMessages, ...requestMessages]);
  if (!full.text.startsWith(contextText)) {
    throw new InvalidArgumentError(
      "This model's chat template renders the stored context differently when the request's messages follow it, so the context cannot be reused for this request",
    );
  }
  const rest = full.text.slice(contextText.length);
  return rest.length ? model.tokenizer.encode(rest, { addSpecialTokens: false }) : [];
}
