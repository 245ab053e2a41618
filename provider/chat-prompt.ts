// Messages → prompt text → token ids, one way for the provider and the CLI (so both give the model the
// same tokens): through the chat template when the model has one, else as raw text with the model's BOS.
import { renderChatTemplate, type ChatMessage, type ChatTool } from '../engine/chat-template.js';
import type { Model } from '../engine/model.js';
import { rawPromptText } from './convert-prompt.js';

export interface ChatPromptOptions {
  messages: ChatMessage[];
  tools?: ChatTool[];
  /** Skip the template even when the model has one (completion mode). */
  raw?: boolean;
  enableThinking?: boolean;
}

export interface ChatPrompt {
  text: string;
  tokenIds: number[];
  /** false = raw completion mode (no template, or raw requested). */
  templated: boolean;
}

export function buildChatPrompt(model: Model, options: ChatPromptOptions): ChatPrompt {
  const template = model.chatTemplate;
  if (options.raw || !template) {
    const text = rawPromptText(options.messages);
    return { text, tokenIds: model.tokenizer.encode(text, { addSpecialTokens: true }), templated: false };
  }
  const { tokenizer, info } = model;
  const text = renderChatTemplate(template, {
    messages: options.messages,
    tools: options.tools?.length ? options.tools : undefined,
    addGenerationPrompt: true,
    enableThinking: options.enableThinking,
    bosToken: info.bosTokenId !== undefined ? tokenizer.tokenPiece(info.bosTokenId) : undefined,
    eosToken: info.eosTokenIds.length ? tokenizer.tokenPiece(info.eosTokenIds[0]!) : undefined,
  });
  // The template writes BOS itself where the model wants one (as transformers' apply_chat_template).
  return { text, tokenIds: tokenizer.encode(text, { addSpecialTokens: false }), templated: true };
}
