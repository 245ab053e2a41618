// Renders a model's Jinja chat template (tokenizer_config.json's chat_template or GGUF's
// tokenizer.chat_template) the way transformers' apply_chat_template does, via @huggingface/jinja.
import { Template, tokenize } from '@huggingface/jinja';
import { InvalidArgumentError } from './errors.js';

/** A tool call in HF's message format (arguments as an object, as templates expect). */
export interface ChatToolCall {
  type: 'function';
  id?: string;
  function: { name: string; arguments: Record<string, unknown> | string };
}

/** A chat message in HF's format. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  content: string | null;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
  name?: string;
  /** Thinking text of an earlier assistant turn (Qwen3-style templates render it). */
  reasoning_content?: string;
}

/** A tool in HF's format. */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface RenderChatTemplateOptions {
  messages: ChatMessage[];
  tools?: ChatTool[];
  addGenerationPrompt: boolean;
  /** Only passed to the template when set, so `enable_thinking is defined` behaves as in transformers. */
  enableThinking?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** More template variables (e.g. date_string, custom flags); they cannot override the ones above. */
  extra?: Record<string, unknown>;
}

const MAX_CACHED_TEMPLATES = 16;
const compiled = new Map<string, Template>();

function compile(template: string): Template {
  if (typeof template !== 'string' || template.length === 0) {
    throw new InvalidArgumentError('Chat template must be a non-empty string');
  }
  let t = compiled.get(template);
  if (t) return t;
  try {
    t = new Template(template);
  } catch (err) {
    throw new InvalidArgumentError(`Chat template does not parse: ${(err as Error).message}`, { cause: err });
  }
  if (compiled.size >= MAX_CACHED_TEMPLATES) compiled.delete(compiled.keys().next().value!);
  compiled.set(template, t);
  return t;
}

export function renderChatTemplate(template: string, options: RenderChatTemplateOptions): string {
  const t = compile(template);
  if (!Array.isArray(options.messages)) throw new InvalidArgumentError('Chat template needs an array of messages');
  const context: Record<string, unknown> = {
    ...options.extra,
    messages: options.messages,
    add_generation_prompt: options.addGenerationPrompt,
    bos_token: options.bosToken ?? '',
    eos_token: options.eosToken ?? '',
  };
  // Templates test `if tools` / `tools is not none`: absent tools must be undefined, never [].
  if (options.tools && options.tools.length > 0) context.tools = options.tools;
  if (options.enableThinking !== undefined) context.enable_thinking = options.enableThinking;
  try {
    return t.render(context);
  } catch (err) {
    throw new InvalidArgumentError(`Chat template raised an error: ${(err as Error).message}`, { cause: err });
  }
}

/** Names the template reads as variables (not attributes like `message.tools`, not string text). */
function templateVariables(template: string): Set<string> {
  const names = new Set<string>();
  // The package's lexer types do not resolve under NodeNext, so name the shape used here.
  let tokens: Array<{ type: string; value: string }>;
  try {
    tokens = tokenize(template, { lstrip_blocks: true, trim_blocks: true }) as Array<{ type: string; value: string }>;
  } catch {
    return names;
  }
  tokens.forEach((tok, i) => {
    if (tok.type === 'Identifier' && tokens[i - 1]?.type !== 'Dot') names.add(tok.value);
  });
  return names;
}

/** Whether the template renders a `tools` list (so tool definitions reach the model through it). */
export function templateSupportsTools(template: string | undefined): boolean {
  return template !== undefined && templateVariables(template).has('tools');
}

/** Whether the template reads `enable_thinking` (Qwen3-style switchable reasoning). */
export function templateSupportsThinking(template: string | undefined): boolean {
  return template !== undefined && templateVariables(template).has('enable_thinking');
}
