// Tool calls written by the model → tool-call parts. The body of `<tool_call>…</tool_call>` (or a whole
// Llama 3.1 reply) is `{"name": ..., "arguments"|"parameters": {...}}`; the AI SDK wants the input as a JSON string.
import { randomUUID } from 'node:crypto';
import type { LanguageModelV3ToolCall } from '@ai-sdk/provider';

export interface ParsedToolCall {
  toolName: string;
  /** JSON text of the arguments object. */
  input: string;
}

/** Parses one call body; null when it is not a JSON object naming a tool. */
export function parseToolCallBody(body: string): ParsedToolCall | null {
  let value: unknown;
  try {
    value = JSON.parse(body.trim());
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { name, arguments: args, parameters } = value as Record<string, unknown>;
  if (typeof name !== 'string' || name === '') return null;
  const input = args ?? parameters ?? {};
  return { toolName: name, input: typeof input === 'string' ? input : JSON.stringify(input) };
}

export function toToolCallPart(call: ParsedToolCall): LanguageModelV3ToolCall {
  return { type: 'tool-call', toolCallId: `call_${randomUUID()}`, toolName: call.toolName, input: call.input };
}

/** A Llama 3.1-style reply that is nothing but one call object (only when tools were offered). */
export function parseBareToolCall(text: string, toolNames: ReadonlySet<string>): ParsedToolCall | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return null;
  const call = parseToolCallBody(trimmed);
  return call && toolNames.has(call.toolName) ? call : null;
}
