// Chat messages → the model's token ids, split into [context | question] (DESIGN.md §5): a stored
// context's messages come first and are rendered alone (no generation prompt) into the context's tokens;
// the request's messages are what the full conversation's rendering adds after that text. Lives in the
// provider floor because the provider, the middleware and the server all split prompts the same way.
import { renderChatTemplate, type ChatMessage } from '../engine/chat-template.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { Model } from '../engine/model.js';
import { buildChatPrompt } from './chat-prompt.js';
import { rawPromptText } from './convert-prompt.js';

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
