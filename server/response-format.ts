// OpenAI's `response_format` on /v1/chat/completions, served by the provider's constrained decoding: the
// grammar only lets the model write JSON (any object or array for `json_object`, a value matching the
// schema for `json_schema`), so the answer parses — it is never an instruction the model may ignore.
import { InvalidArgumentError } from '../engine/errors.js';
import { jsonGrammar } from '../engine/constrained/grammars.js';
import type { Model } from '../engine/model.js';
import type { GenerateOptions, GenerateResult, SamplingOptions } from '../engine/types.js';
import { toolCallFormatOf, type PreparedCall } from '../provider/prepare-call.js';
import { runCall } from '../provider/run-call.js';
import { HttpError } from './openai-errors.js';
import type { ChatCompletionRequest } from './schemas.js';

export type JsonOutput = NonNullable<PreparedCall['grammar']> & { kind: 'json' };

/** The JSON grammar a request asks for, or undefined for free text (`response_format` absent or `text`). */
export function jsonOutputOf(request: ChatCompletionRequest): JsonOutput | undefined {
  const format = request.response_format;
  if (!format || format.type === 'text') return undefined;
  const schema = format.type === 'json_schema' ? format.json_schema.schema : undefined;
  try {
    return { kind: 'json', grammar: jsonGrammar(schema), schema };
  } catch (err) {
    // A schema the grammar compiler cannot enforce is the client's to fix, not a server failure.
    if (err instanceof InvalidArgumentError) {
      throw new HttpError(400, `response_format.json_schema.schema cannot be enforced: ${err.message}`, 'invalid_request_error', 'invalid_response_format', 'response_format');
    }
    throw err;
  }
}

/** Generates `promptTokenIds` under the JSON grammar, on the same path the provider's responseFormat json uses. */
export function generateJson(model: Model, promptTokenIds: number[], json: JsonOutput, options: GenerateOptions): Promise<GenerateResult> {
  const { maxTokens, signal, onText, stopSequences: _stops, stopTokenIds: _stopIds, onToken: _onToken, ...sampling } = options;
  const call: PreparedCall = {
    promptTokenIds,
    promptText: '',
    sampling: sampling satisfies SamplingOptions,
    maxTokens,
    // The grammar decides where JSON ends; a stop sequence could cut it into something that does not parse.
    stopSequences: [],
    warnings: [],
    grammar: json,
    toolNames: new Set(),
    toolFormat: toolCallFormatOf(model.chatTemplate),
    thinking: false,
    startInReasoning: false,
  };
  return runCall(model, call, { signal, onText });
}
