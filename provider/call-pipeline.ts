// The one pipeline that answers a planned call (planCall): on a stored context — the question prefilled on a
// copy-on-write fork of it — or on the model with the whole prompt. The presskv provider (createPressKV, with its
// per-model context stores) and contextCacheMiddleware({ store }) both answer through generateCall / streamCall,
// so a call reports the same text, usage and providerMetadata.presskv whichever of them ran it.
//
// Usage follows hosted prompt caching (Anthropic's fields as the AI SDK maps them; OpenAI and Gemini report the
// read part only): inputTokens.total is the whole prompt (context + question) = noCache + cacheRead + cacheWrite.
// The call that stores a context — or brings one back after eviction or a restart — reports its tokens as
// cacheWrite; every later call that finds it resident reports them as cacheRead; noCache is what the call
// prefilled beyond that (its question). A call without a stored context reads and writes nothing.
//
// providerMetadata.presskv: the engine's figures of every call (prefillMs, decodeMs, prefill/decode tokens per
// second, kvTokens, kvBytes, kvSlotsMin/Max, rawFinishReason, device) and, when a stored context answered,
// contextId, contextPress, tokensBefore, tokensAfter, bytes, bytesBefore (when known), compressed, cacheHit
// (false: it was rebuilt first); a call the store could not answer has contextId, cacheHit: false, cacheSkipped.
import { randomUUID } from 'node:crypto';
import type {
  LanguageModelV3CallOptions,
  LanguageModelV3Content,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
  LanguageModelV3Usage,
  SharedV3ProviderMetadata,
  SharedV3Warning,
} from '@ai-sdk/provider';
import { validateJson } from '../engine/constrained/validate-json.js';
import type { ContextGenerateResult } from '../engine/context-store.js';
import type { Model } from '../engine/model.js';
import type { GenerateResult } from '../engine/types.js';
import type { ContextRun, PlannedCall } from './context-call.js';
import { mapFinishReason } from './finish-reason.js';
import { OutputSegmenter, type Segment } from './output-segments.js';
import type { PreparedCall } from './prepare-call.js';
import { runCall } from './run-call.js';
import { parseBareToolCall, parseToolCallBody, toToolCallPart, type ParsedToolCall } from './tool-calls.js';

/** doGenerate of a planned call: the whole answer at once. */
export async function generateCall(
  model: Model,
  options: LanguageModelV3CallOptions,
  planned: PlannedCall,
  modelId: string,
): Promise<LanguageModelV3GenerateResult> {
  const { call } = planned;
  const result = await runCall(model, call, { signal: options.abortSignal, context: planned.context });
  if (result.finishReason === 'abort') options.abortSignal?.throwIfAborted();

  const segmenter = newSegmenter(call);
  const segments = [...segmenter.push(result.text), ...segmenter.end()];
  const content: LanguageModelV3Content[] = [];
  const calls = toolCallsOf(segments, result.text, call);
  for (const segment of calls.segments) {
    if (segment.kind === 'reasoning') content.push({ type: 'reasoning', text: segment.text });
    else if (segment.kind === 'text') content.push({ type: 'text', text: segment.text });
  }
  for (const parsed of calls.list) content.push(toToolCallPart(parsed));
  const warnings = [...call.warnings, ...checkJson(call, result.text)];
  return {
    content,
    finishReason: mapFinishReason(result.finishReason, result.rawFinishReason, calls.list.length > 0),
    usage: usageOf(result, reasoningTokens(model, result, call), planned),
    providerMetadata: metadataOf(result, planned),
    request: { body: requestBody(planned) },
    response: { id: `presskv-${randomUUID()}`, timestamp: new Date(), modelId },
    warnings,
  };
}

/** doStream of a planned call: real tokens as they are generated; cancelling the stream stops the engine. */
export function streamCall(model: Model, options: LanguageModelV3CallOptions, planned: PlannedCall, modelId: string): LanguageModelV3StreamResult {
  const { call } = planned;
  // A consumer that stops reading (cancels the stream) stops the engine too, as an abort does.
  const cancelled = new AbortController();
  const signal = options.abortSignal ? AbortSignal.any([options.abortSignal, cancelled.signal]) : cancelled.signal;
  let closed = false;

  const stream = new ReadableStream<LanguageModelV3StreamPart>({
    start: (controller) => {
      const enqueue = (part: LanguageModelV3StreamPart) => {
        if (!closed) controller.enqueue(part);
      };
      const end = () => {
        if (closed) return;
        closed = true;
        controller.close();
      };
      enqueue({ type: 'stream-start', warnings: call.warnings });
      enqueue({ type: 'response-metadata', id: `presskv-${randomUUID()}`, timestamp: new Date(), modelId });

      const segmenter = newSegmenter(call);
      // Forced tool calls and Llama-style bare calls arrive whole at the end; everything else streams.
      const holdText = call.grammar?.kind === 'tool-call' || (call.toolNames.size > 0 && call.toolFormat.open === '');
      let held = '';
      let open: { kind: 'text' | 'reasoning'; id: string } | null = null;
      let blockCount = 0;
      const calls: ParsedToolCall[] = [];
      const close = () => {
        if (open) enqueue({ type: open.kind === 'text' ? 'text-end' : 'reasoning-end', id: open.id });
        open = null;
      };
      const emit = (segments: Segment[]) => {
        const found = toolCallsOf(segments, '', call);
        if (!found.bare) calls.push(...found.list);
        for (const s of found.bare ? segments : found.segments) {
          if (s.kind === 'tool-call') continue;
          if (open?.kind !== s.kind) {
            close();
            open = { kind: s.kind, id: String(blockCount++) };
            enqueue({ type: s.kind === 'text' ? 'text-start' : 'reasoning-start', id: open.id });
          }
          enqueue({ type: s.kind === 'text' ? 'text-delta' : 'reasoning-delta', id: open.id, delta: s.text });
        }
      };

      runCall(model, call, {
        signal,
        context: planned.context,
        onText: (delta) => {
          if (holdText) held += delta;
          else emit(segmenter.push(delta));
        },
      }).then(
        (result) => {
          if (holdText) {
            const all = [...segmenter.push(held), ...segmenter.end()];
            const found = toolCallsOf(all, held, call);
            calls.push(...found.list);
            emit(found.segments);
          } else emit(segmenter.end());
          close();
          for (const parsed of calls) {
            const part = toToolCallPart(parsed);
            enqueue({ type: 'tool-input-start', id: part.toolCallId, toolName: part.toolName });
            enqueue({ type: 'tool-input-delta', id: part.toolCallId, delta: part.input });
            enqueue({ type: 'tool-input-end', id: part.toolCallId });
            enqueue(part);
          }
          // Warnings went out with stream-start; a JSON problem found now travels in the metadata.
          const metadata = metadataOf(result, planned);
          const problems = checkJson(call, result.text);
          if (problems.length) metadata.presskv.jsonProblem = problems.map((p) => (p.type === 'other' ? p.message : p.feature)).join('; ');
          enqueue({
            type: 'finish',
            finishReason: mapFinishReason(result.finishReason, result.rawFinishReason, calls.length > 0),
            usage: usageOf(result, reasoningTokens(model, result, call), planned),
            providerMetadata: metadata,
          });
          end();
        },
        (error: unknown) => {
          close();
          enqueue({ type: 'error', error });
          end();
        },
      );
    },
    cancel: () => {
      closed = true;
      cancelled.abort();
    },
  });
  return { stream, request: { body: requestBody(planned) } };
}

function requestBody(planned: PlannedCall): Record<string, unknown> {
  const { call, context } = planned;
  return context ? { prompt: call.promptText, contextId: context.contextId, questionTokens: context.question.length } : { prompt: call.promptText };
}

function newSegmenter(call: PreparedCall): OutputSegmenter {
  return new OutputSegmenter({
    thinking: call.thinking,
    startInReasoning: call.startInReasoning,
    toolCalls: call.toolNames.size > 0 && call.toolFormat.open !== '',
  });
}

/**
 * Tool calls in the output: tagged calls from the segments (a tag around something that is not a call
 * of an offered tool stays text), or a Llama-style reply that is one bare call object.
 */
function toolCallsOf(segments: Segment[], text: string, call: PreparedCall): { list: ParsedToolCall[]; bare: boolean; segments: Segment[] } {
  if (call.toolNames.size === 0) return { list: [], bare: false, segments };
  if (call.toolFormat.open === '') {
    const answer = segments.map((s) => (s.kind === 'text' ? s.text : '')).join('');
    const bare = parseBareToolCall(answer || text, call.toolNames);
    return bare ? { list: [bare], bare: true, segments: segments.filter((s) => s.kind !== 'text') } : { list: [], bare: false, segments };
  }
  const list: ParsedToolCall[] = [];
  const rest: Segment[] = [];
  for (const s of segments) {
    if (s.kind !== 'tool-call') rest.push(s);
    else {
      const parsed = parseToolCallBody(s.body);
      if (parsed && call.toolNames.has(parsed.toolName)) list.push(parsed);
      else rest.push({ kind: 'text', text: `<tool_call>${s.body}</tool_call>` });
    }
  }
  return { list, bare: false, segments: rest };
}

/** JSON output is constrained while generated; this reports what the grammar could not enforce. */
function checkJson(call: PreparedCall, text: string): SharedV3Warning[] {
  if (call.grammar?.kind !== 'json') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [{ type: 'other', message: 'The JSON output is incomplete: maxOutputTokens ran out before it could be closed' }];
  }
  const problem = call.grammar.schema === undefined ? null : validateJson(value, call.grammar.schema);
  return problem ? [{ type: 'other', message: `The JSON output does not match the schema: ${problem}` }] : [];
}

function reasoningTokens(model: Model, result: GenerateResult, call: PreparedCall): number {
  if (!call.thinking) return 0;
  // Count the tokens that fall inside reasoning by replaying the token texts through a segmenter.
  const segmenter = newSegmenter(call);
  const decoder = new TextDecoder();
  let count = 0;
  for (const id of result.generatedTokenIds) {
    const segments = segmenter.push(decoder.decode(model.tokenizer.tokenBytes(id), { stream: true }));
    if (segments.some((s) => s.kind === 'reasoning')) count++;
  }
  return count;
}

/** The prompt-caching figures of one call (see the head of this file). */
function contextUsage(result: GenerateResult, context: ContextRun | undefined): { cacheRead: number; cacheWrite: number } {
  if (!context) return { cacheRead: 0, cacheWrite: 0 };
  const n = (result as ContextGenerateResult).context.cachedTokens;
  if (context.created || !(result as ContextGenerateResult).context.cacheHit) return { cacheRead: 0, cacheWrite: n };
  return { cacheRead: n, cacheWrite: 0 };
}

function usageOf(result: GenerateResult, reasoning: number, planned: PlannedCall): LanguageModelV3Usage {
  const output = result.generatedTokenIds.length;
  const total = result.usage.inputTokens;
  const { cacheRead, cacheWrite } = contextUsage(result, planned.context);
  return {
    inputTokens: { total, noCache: total - cacheRead - cacheWrite, cacheRead, cacheWrite },
    outputTokens: { total: output, text: output - reasoning, reasoning },
  };
}

function metadataOf(result: GenerateResult, planned: PlannedCall): SharedV3ProviderMetadata & { presskv: Record<string, number | string | boolean> } {
  return {
    presskv: {
      ...(planned.context ? contextMetadata(result as ContextGenerateResult) : {}),
      ...(planned.skipped ? { contextId: planned.skipped.contextId, cacheHit: false, cacheSkipped: planned.skipped.reason } : {}),
      prefillMs: result.timings.prefillMs,
      decodeMs: result.timings.decodeMs,
      prefillTokensPerSecond: result.timings.prefillTokensPerSecond,
      decodeTokensPerSecond: result.timings.decodeTokensPerSecond,
      kvTokens: result.kv.tokens,
      kvBytes: result.kv.bytes,
      // Slots the call's own cache held per (layer, kv-head) at the end: below kvTokens where a press acted.
      ...(result.kv.lengths?.length ? { kvSlotsMin: Math.min(...result.kv.lengths), kvSlotsMax: Math.max(...result.kv.lengths) } : {}),
      rawFinishReason: result.rawFinishReason,
      device: result.device,
    },
  };
}

function contextMetadata(result: ContextGenerateResult): Record<string, number | string | boolean> {
  const c = result.context;
  return {
    contextId: c.contextId,
    // Which stored context answered: with automatic reuse, one compressed by any press may.
    contextPress: c.press ? String(c.press.name) : 'none',
    tokensBefore: c.tokensBefore,
    tokensAfter: c.tokensAfter,
    bytes: c.bytes,
    ...(c.bytesBefore !== null ? { bytesBefore: c.bytesBefore } : {}),
    compressed: c.compressed,
    cacheHit: c.cacheHit,
  };
}
