// Everything a call needs before the first token: validated options, warnings for what presskv ignores,
// the prompt rendered through the chat template (or raw text), its token ids, the sampling settings,
// and — for JSON output or forced tool calls — the grammar to constrain decoding with.
import type { LanguageModelV3CallOptions, LanguageModelV3FunctionTool, SharedV3Warning } from '@ai-sdk/provider';
import { templateSupportsThinking as templateReadsThinking, templateSupportsTools } from '../engine/chat-template.js';
import { HERMES_TOOL_CALL_FORMAT, jsonGrammar, LLAMA3_TOOL_CALL_FORMAT, toolCallGrammar, type ToolCallFormat } from '../engine/constrained/grammars.js';
import type { Grammar } from '../engine/constrained/grammar-matcher.js';
import type { Model } from '../engine/model.js';
import type { SamplingOptions } from '../engine/types.js';
import { buildChatPrompt } from './chat-prompt.js';
import { convertPrompt, convertTools, toChatTools } from './convert-prompt.js';
import { parsePresskvOptions } from './provider-options.js';

export interface PreparedCall {
  promptTokenIds: number[];
  /** The rendered prompt text (for debugging and providerMetadata). */
  promptText: string;
  sampling: SamplingOptions;
  maxTokens: number;
  stopSequences: string[];
  warnings: SharedV3Warning[];
  /** Set for JSON output and forced tool calls. */
  grammar?: { kind: 'json'; grammar: Grammar; schema?: unknown } | { kind: 'tool-call'; grammar: Grammar };
  /** Tools whose calls are parsed from the output (empty: no tool calls). */
  toolNames: ReadonlySet<string>;
  toolFormat: ToolCallFormat;
  thinking: boolean;
  startInReasoning: boolean;
}

/** Thinking models: a thinking switch, or <think> blocks written by the template. */
export function templateSupportsThinking(template: string | undefined): boolean {
  return templateReadsThinking(template) || Boolean(template?.includes('<think>'));
}

export function toolCallFormatOf(template: string | undefined): ToolCallFormat {
  if (template && !template.includes('<tool_call>') && template.includes('"parameters"')) return LLAMA3_TOOL_CALL_FORMAT;
  return HERMES_TOOL_CALL_FORMAT;
}

export function prepareCall(model: Model, options: LanguageModelV3CallOptions): PreparedCall {
  const presskv = parsePresskvOptions(options.providerOptions);
  const { messages, warnings } = convertPrompt(options.prompt);
  const template = model.chatTemplate;
  const raw = presskv.raw === true || !template;

  // generateText sends its own user-agent header; only headers the caller set deserve a warning.
  const headers = Object.entries(options.headers ?? {}).filter(([name, v]) => v !== undefined && name.toLowerCase() !== 'user-agent');
  if (headers.length) {
    warnings.push({ type: 'unsupported', feature: 'headers', details: 'presskv runs locally; request headers are ignored' });
  }
  if (options.includeRawChunks) {
    warnings.push({ type: 'unsupported', feature: 'includeRawChunks', details: 'presskv has no raw provider chunks' });
  }

  let tools = convertTools(options.tools, warnings);
  const toolChoice = options.toolChoice ?? { type: 'auto' };
  if (tools.length && raw) {
    warnings.push({ type: 'unsupported', feature: 'tools', details: template ? 'tools need the chat template (providerOptions.presskv.raw is set)' : 'this model has no chat template, so it cannot be told about tools' });
    tools = [];
  } else if (tools.length && !templateSupportsTools(template)) {
    warnings.push({ type: 'unsupported', feature: 'tools', details: "this model's chat template does not render tools" });
    tools = [];
  }
  if (toolChoice.type === 'none') tools = [];
  if (toolChoice.type === 'tool') {
    tools = tools.filter((t) => t.name === toolChoice.toolName);
    if (!tools.length && options.tools?.length) warnings.push({ type: 'other', message: `toolChoice names the unknown tool ${toolChoice.toolName}` });
  }

  const thinkingTemplate = !raw && templateSupportsThinking(template);
  if (presskv.enableThinking !== undefined && !thinkingTemplate) {
    warnings.push({ type: 'unsupported', feature: 'providerOptions.presskv.enableThinking', details: "this model's chat template has no thinking switch" });
  }

  const prompt = buildChatPrompt(model, { messages, tools: toChatTools(tools), raw, enableThinking: presskv.enableThinking });
  const promptText = prompt.text;
  const promptTokenIds = prompt.tokenIds;

  const toolFormat = toolCallFormatOf(template);
  let grammar: PreparedCall['grammar'];
  if (options.responseFormat?.type === 'json') {
    grammar = { kind: 'json', grammar: jsonGrammar(options.responseFormat.schema), schema: options.responseFormat.schema };
    if (tools.length) {
      warnings.push({ type: 'other', message: 'responseFormat json: the output is constrained to JSON, so no tool can be called' });
      tools = [];
    }
  } else if (tools.length && (toolChoice.type === 'required' || toolChoice.type === 'tool' || presskv.constrainToolCalls)) {
    grammar = { kind: 'tool-call', grammar: toolCallGrammar(tools.map(grammarTool), toolFormat) };
  }

  const room = model.contextLength - promptTokenIds.length;
  const maxTokens = options.maxOutputTokens ?? Math.max(0, room);
  const sampling: SamplingOptions = {
    temperature: options.temperature,
    topP: options.topP,
    topK: options.topK,
    minP: presskv.minP,
    repetitionPenalty: presskv.repetitionPenalty,
    penaltyLastN: presskv.penaltyLastN,
    presencePenalty: options.presencePenalty,
    frequencyPenalty: options.frequencyPenalty,
    seed: options.seed,
  };
  for (const key of Object.keys(sampling) as (keyof SamplingOptions)[]) if (sampling[key] === undefined) delete sampling[key];

  return {
    promptTokenIds,
    promptText,
    sampling,
    maxTokens,
    stopSequences: options.stopSequences ?? [],
    warnings,
    grammar,
    toolNames: new Set(tools.map((t) => t.name)),
    toolFormat,
    thinking: thinkingTemplate,
    startInReasoning: thinkingTemplate && /<think>\s*$/.test(promptText),
  };
}

function grammarTool(tool: LanguageModelV3FunctionTool) {
  return { name: tool.name, inputSchema: tool.inputSchema };
}
