// AI SDK prompt → the chat messages HF chat templates expect (role/content, assistant tool_calls with
// argument objects, one `tool` message per tool result), and the plain text used in raw completion mode.
import {
  UnsupportedFunctionalityError,
  type LanguageModelV3FunctionTool,
  type LanguageModelV3Prompt,
  type LanguageModelV3ToolResultOutput,
  type SharedV3Warning,
} from '@ai-sdk/provider';
import type { ChatMessage, ChatTool, ChatToolCall } from '../engine/chat-template.js';

export type { ChatMessage, ChatTool, ChatToolCall };

export interface ConvertedPrompt {
  messages: ChatMessage[];
  warnings: SharedV3Warning[];
}

export function convertPrompt(prompt: LanguageModelV3Prompt): ConvertedPrompt {
  const warnings: SharedV3Warning[] = [];
  const messages: ChatMessage[] = [];
  for (const message of prompt) {
    switch (message.role) {
      case 'system':
        messages.push({ role: 'system', content: message.content });
        break;
      case 'user': {
        const texts: string[] = [];
        for (const part of message.content) {
          if (part.type === 'text') texts.push(part.text);
          else texts.push(textOfFile(part.data, part.mediaType, part.filename));
        }
        messages.push({ role: 'user', content: texts.join('\n') });
        break;
      }
      case 'assistant': {
        const texts: string[] = [];
        const reasoning: string[] = [];
        const calls: ChatToolCall[] = [];
        for (const part of message.content) {
          switch (part.type) {
            case 'text':
              texts.push(part.text);
              break;
            case 'reasoning':
              reasoning.push(part.text);
              break;
            case 'tool-call':
              calls.push({ id: part.toolCallId, type: 'function', function: { name: part.toolName, arguments: toolArguments(part.input) } });
              break;
            case 'file':
              texts.push(textOfFile(part.data, part.mediaType, part.filename));
              break;
            case 'tool-result':
              // Results of provider-executed tools: presskv executes none, so there is nothing to render.
              warnings.push({ type: 'other', message: `presskv ignores the provider-executed tool result for ${part.toolName}` });
              break;
          }
        }
        const m: ChatMessage = { role: 'assistant', content: texts.join('') };
        if (reasoning.length) m.reasoning_content = reasoning.join('\n');
        if (calls.length) m.tool_calls = calls;
        messages.push(m);
        break;
      }
      case 'tool':
        for (const part of message.content) {
          if (part.type !== 'tool-result') continue; // tool-approval-response: nothing for the model to read
          messages.push({ role: 'tool', content: toolOutputText(part.output), tool_call_id: part.toolCallId, name: part.toolName });
        }
        break;
    }
  }
  return { messages, warnings };
}

export function convertTools(tools: ReadonlyArray<{ type: string }> | undefined, warnings: SharedV3Warning[]): LanguageModelV3FunctionTool[] {
  const out: LanguageModelV3FunctionTool[] = [];
  for (const tool of tools ?? []) {
    if (tool.type === 'function') out.push(tool as LanguageModelV3FunctionTool);
    else warnings.push({ type: 'unsupported', feature: `provider tool ${(tool as { id?: string }).id ?? ''}`.trim(), details: 'presskv only runs function tools' });
  }
  return out;
}

export function toChatTools(tools: LanguageModelV3FunctionTool[]): ChatTool[] {
  return tools.map((t) => ({
    type: 'function',
    function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.inputSchema as Record<string, unknown> },
  }));
}

/** Raw completion mode: the messages' text, one message after another. */
export function rawPromptText(messages: ChatMessage[]): string {
  return messages.map((m) => m.content ?? '').filter((c) => c !== '').join('\n');
}

/** Templates want the arguments as an object (they `tojson` it); a non-JSON string stays a string. */
function toolArguments(input: unknown): Record<string, unknown> | string {
  let value = input;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return value as string;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : JSON.stringify(value);
}

export function toolOutputText(output: LanguageModelV3ToolResultOutput): string {
  switch (output.type) {
    case 'text':
    case 'error-text':
      return output.value;
    case 'json':
    case 'error-json':
      return JSON.stringify(output.value);
    case 'execution-denied':
      return `Tool execution denied${output.reason ? `: ${output.reason}` : ''}`;
    case 'content':
      return output.value
        .map((item) => {
          if (item.type === 'text') return item.text;
          throw new UnsupportedFunctionalityError({ functionality: `tool result content of type ${item.type} (presskv models read text only)` });
        })
        .join('\n');
  }
}

/** Text files are inlined; anything else cannot be read by a text-only model. */
function textOfFile(data: unknown, mediaType: string, filename?: string): string {
  if (!mediaType.startsWith('text/') && mediaType !== 'application/json') {
    throw new UnsupportedFunctionalityError({ functionality: `file parts of type ${mediaType} (presskv models read text only)` });
  }
  if (data instanceof URL) throw new UnsupportedFunctionalityError({ functionality: 'file URLs (pass the file content instead)' });
  const text = data instanceof Uint8Array ? new TextDecoder().decode(data) : Buffer.from(String(data), 'base64').toString('utf8');
  return filename ? `${filename}:\n${text}` : text;
}
