// POST /v1/chat/completions, OpenAI-compatible: a chat.completion object, or with `stream: true` SSE
// chat.completion.chunk frames (role, content deltas, finish reason, then a usage chunk when
// stream_options.include_usage) and `data: [DONE]`. `context_id` names a stored context (/v1/contexts): its
// KV cache is reused and usage.prompt_tokens_details.cached_tokens says how many prompt tokens it covered.
// A request whose prompt starts with a stored context — uncompressed or compressed by any press — reuses it
// automatically (ContextStore.findPrefix: the longest such context, then the most recently used); the reply's
// presskv.context_id / context_press say which, usage.prompt_tokens_details.cached_tokens how many tokens it covered.
// `response_format` json_object / json_schema is decoded under a JSON grammar (server/response-format.ts).
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import type { ChatMessage } from '../engine/chat-template.js';
import type { ContextUse } from '../engine/context-store.js';
import type { Model } from '../engine/model.js';
import type { GenerateOptions, GenerateResult } from '../engine/types.js';
import { questionAfterContext, renderConversation } from '../provider/index.js';
import { toChatMessages } from './openai-messages.js';
import { HttpError, toOpenAIError } from './openai-errors.js';
import { readJsonBody } from './read-body.js';
import { chatCompletionRequestSchema, type ChatCompletionRequest } from './schemas.js';
import { checkModelName, type ServedModel } from './served-model.js';
import { generateJson, jsonOutputOf, type JsonOutput } from './response-format.js';
import { serverShuttingDownError } from './shutdown.js';
import { sseResponse } from './sse.js';

interface Plan {
  model: Model;
  /** Generates with the prompt of the request; context calls add `context`. */
  run: (options: GenerateOptions) => Promise<GenerateResult & { context?: ContextUse }>;
  promptTokens: number;
}

export interface ChatCompletionsOptions {
  /** Fires when the server shuts down: running requests end with a server_shutting_down error. */
  shutdownSignal?: AbortSignal;
}

export function chatCompletionsRoutes(served: ServedModel, routeOptions: ChatCompletionsOptions = {}): Hono {
  const { shutdownSignal } = routeOptions;
  const routes = new Hono();
  routes.post('/chat/completions', async (c) => {
    const request = chatCompletionRequestSchema.parse(await readJsonBody(c));
    checkModelName(request.model, served);
    const plan = await planOf(served, request);
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const base = { id, created, model: served.id, system_fingerprint: null };
    const options = generateOptionsOf(request, plan);

    if (!request.stream) {
      const signal = shutdownSignal ? AbortSignal.any([c.req.raw.signal, shutdownSignal]) : c.req.raw.signal;
      const result = await plan.run({ ...options, signal });
      if (result.finishReason === 'abort' && shutdownSignal?.aborted) throw serverShuttingDownError();
      if (result.finishReason === 'abort') throw new HttpError(499 as never, 'The client closed the request', 'invalid_request_error', 'aborted');
      return c.json({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: result.text, refusal: null }, logprobs: null, finish_reason: finishReasonOf(result) }],
        usage: usageOf(result),
        ...presskvOf(result),
      });
    }

    const includeUsage = request.stream_options?.include_usage === true;
    return sseResponse(
      async (send, signal) => {
        const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => send({ ...base, object: 'chat.completion.chunk', choices, ...extra });
        chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
        const result = await plan.run({
          ...options,
          signal,
          onText: (delta) => chunk([{ index: 0, delta: { content: delta }, logprobs: null, finish_reason: null }]),
        });
        if (result.finishReason === 'abort') return;
        chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finishReasonOf(result) }]);
        if (includeUsage) chunk([], { usage: usageOf(result), ...presskvOf(result) });
      },
      {
        requestSignal: c.req.raw.signal,
        errorBody: (err) => toOpenAIError(err).body,
        shutdown: shutdownSignal && { signal: shutdownSignal, body: toOpenAIError(serverShuttingDownError()).body },
      },
    );
  });
  return routes;
}

async function planOf(served: ServedModel, request: ChatCompletionRequest): Promise<Plan> {
  const model = await served.model();
  const store = await served.store();
  const messages = toChatMessages(request.messages);
  const json = jsonOutputOf(request);
  if (json) return jsonPlanOf(model, request, messages, json);
  if (request.context_id) {
    const info = await store.get(request.context_id);
    const meta = info.meta as { messages?: unknown; text?: unknown } | null;
    if (!meta || !Array.isArray(meta.messages) || typeof meta.text !== 'string') {
      throw new HttpError(400, `Context ${info.id} was not created through /v1/contexts, so chat requests cannot name it`, 'invalid_request_error', 'context_not_chat', 'context_id');
    }
    const question = questionAfterContext(model, meta.messages, meta.text, messages);
    return {
      model,
      promptTokens: info.tokensBefore + question.length,
      run: (options) => store.generate(info.id, question, options),
    };
  }
  const prompt = renderConversation(model, messages);
  // After a restart, contexts persisted in the cache directory are known once listed.
  if (store.cacheDir) await store.list();
  const match = store.findPrefix(prompt.tokenIds);
  if (match) {
    const question = prompt.tokenIds.slice(match.tokensBefore);
    return { model, promptTokens: prompt.tokenIds.length, run: (options) => store.generate(match.id, question, options) };
  }
  return { model, promptTokens: prompt.tokenIds.length, run: (options) => model.generate(prompt.tokenIds, options) };
}

/**
 * JSON output is constrained token by token on the model with the whole prompt: a stored context's
 * generation path cannot apply a grammar, so prefix reuse is skipped and naming a context is refused.
 */
function jsonPlanOf(model: Model, request: ChatCompletionRequest, messages: ChatMessage[], json: JsonOutput): Plan {
  if (request.context_id) {
    throw new HttpError(400, 'response_format with context_id is not supported: JSON output is decoded on the whole prompt, not on a stored context', 'invalid_request_error', 'unsupported_parameter', 'response_format');
  }
  const prompt = renderConversation(model, messages);
  return { model, promptTokens: prompt.tokenIds.length, run: (options) => generateJson(model, prompt.tokenIds, json, options) };
}

function generateOptionsOf(request: ChatCompletionRequest, plan: Plan): GenerateOptions {
  const room = plan.model.contextLength - plan.promptTokens;
  const options: GenerateOptions = {
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? Math.max(1, room),
  };
  const set = <K extends keyof GenerateOptions>(key: K, value: GenerateOptions[K] | null | undefined) => {
    if (value !== null && value !== undefined) options[key] = value;
  };
  set('temperature', request.temperature);
  set('topP', request.top_p);
  set('topK', request.top_k);
  set('minP', request.min_p);
  set('repetitionPenalty', request.repetition_penalty);
  set('presencePenalty', request.presence_penalty);
  set('frequencyPenalty', request.frequency_penalty);
  set('seed', request.seed);
  if (request.ignore_eos) options.stopTokenIds = [];
  if (request.stop) options.stopSequences = typeof request.stop === 'string' ? [request.stop] : request.stop;
  return options;
}

function finishReasonOf(result: GenerateResult): 'stop' | 'length' {
  return result.finishReason === 'length' ? 'length' : 'stop';
}

function usageOf(result: GenerateResult & { context?: ContextUse }) {
  return {
    prompt_tokens: result.usage.inputTokens,
    completion_tokens: result.usage.outputTokens,
    total_tokens: result.usage.totalTokens,
    prompt_tokens_details: { cached_tokens: result.context?.cachedTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

/** presskv's own figures, beside OpenAI's fields (clients ignore unknown fields). */
function presskvOf(result: GenerateResult & { context?: ContextUse }) {
  const ctx = result.context;
  return {
    presskv: {
      prefill_ms: result.timings.prefillMs,
      decode_ms: result.timings.decodeMs,
      ...(ctx
        ? {
            context_id: ctx.contextId,
            context_press: ctx.press,
            cache_hit: ctx.cacheHit,
            tokens_before: ctx.tokensBefore,
            tokens_after: ctx.tokensAfter,
            context_bytes: ctx.bytes,
          }
        : {}),
    },
  };
}
