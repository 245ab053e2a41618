// OpenAI request messages → chat messages. Kept in the server because only the OpenAI-compatible API speaks
// this message shape; splitting the result into [context | question] is the provider's (provider/context-prompt.ts).
import type { ChatMessage } from '../engine/chat-template.js';
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
