// Runs a prepared call on the engine: free generation through Model.generate, or constrained decoding
// step by step on a session (sample among the grammar's allowed tokens, then append the token).
import { AbortedError, ContextOverflowError } from '../engine/errors.js';
import { constrainedDecode } from '../engine/constrained/constrained-decode.js';
import { GrammarMatcher } from '../engine/constrained/grammar-matcher.js';
import type { Model } from '../engine/model.js';
import type { FinishReason, GenerateResult } from '../engine/types.js';
import type { ContextRun } from './context-call.js';
import type { PreparedCall } from './prepare-call.js';

export interface RunOptions {
  signal?: AbortSignal;
  /** Each new piece of generated text, in order. */
  onText?: (delta: string) => void;
  /** Answer from a stored context: only the question is prefilled, on a copy-on-write fork of the context. */
  context?: ContextRun;
}

const vocabularies = new WeakMap<Model, (Uint8Array | null)[]>();
/** Token bytes for the grammar; special tokens (EOS, chat markers) are never part of constrained text. */
function grammarVocabulary(model: Model): (Uint8Array | null)[] {
  let vocab = vocabularies.get(model);
  if (!vocab) {
    const { tokenizer } = model;
    const end = new Set(model.info.eosTokenIds);
    vocab = Array.from({ length: tokenizer.vocabSize }, (_, id) => (end.has(id) || tokenizer.isSpecial(id) ? null : tokenizer.tokenBytes(id)));
    vocabularies.set(model, vocab);
  }
  return vocab;
}

export async function runCall(model: Model, call: PreparedCall, options: RunOptions): Promise<GenerateResult> {
  const generateOptions = {
    ...call.sampling,
    maxTokens: call.maxTokens,
    stopSequences: call.stopSequences.length ? call.stopSequences : undefined,
    signal: options.signal,
    onText: options.onText,
  };
  if (options.context) {
    const { store, contextId, question } = options.context;
    return store.generate(contextId, question, generateOptions);
  }
  if (!call.grammar) return model.generate(call.promptTokenIds, generateOptions);
  return runConstrained(model, call, options);
}

async function runConstrained(model: Model, call: PreparedCall, options: RunOptions): Promise<GenerateResult> {
  const room = model.contextLength - call.promptTokenIds.length;
  if (room < 1) {
    throw new ContextOverflowError(
      `The prompt has ${call.promptTokenIds.length} tokens, which leaves no room in the context window of ${model.contextLength} tokens.`,
    );
  }
  // The grammar closes the text within the budget, so the budget must be what really fits.
  const maxTokens = Math.min(call.maxTokens, room);
  const session = model.createSession();
  const abort = () => session.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  const decoder = new TextDecoder('utf-8');
  const generated: number[] = [];
  let prefillMs = 0;
  let decodeMs = 0;
  let reason: FinishReason = 'length';
  let raw = 'max-tokens';
  let kv = { tokens: 0, bytes: 0 };
  try {
    const t0 = performance.now();
    await session.evaluate(call.promptTokenIds, { logits: 'none' });
    prefillMs = performance.now() - t0;
    const t1 = performance.now();
    const matcher = new GrammarMatcher(call.grammar!.grammar, grammarVocabulary(model));
    let unevaluated: number | undefined;
    const result = await constrainedDecode({
      matcher,
      maxTokens,
      endTokenIds: model.info.eosTokenIds,
      signal: options.signal,
      pick: async (allowed) => {
        // The previous token is appended only now, so the last token of the output costs no forward pass.
        if (unevaluated !== undefined) await session.evaluate([unevaluated], { logits: 'none' });
        unevaluated = undefined;
        const id = await session.sample({ sampling: call.sampling, allowedTokenIds: allowed });
        unevaluated = id;
        return id;
      },
      onToken: (id) => {
        generated.push(id);
        const delta = decoder.decode(model.tokenizer.tokenBytes(id), { stream: true });
        if (delta) options.onText?.(delta);
      },
    });
    decodeMs = performance.now() - t1;
    reason = result.reason === 'complete' ? 'stop' : result.reason === 'abort' ? 'abort' : 'length';
    raw = result.reason === 'complete' ? 'grammar-complete' : result.reason === 'abort' ? 'abort' : 'max-tokens';
  } catch (err) {
    if (!(err instanceof AbortedError) || !options.signal?.aborted) throw err;
    reason = 'abort';
    raw = 'abort';
  } finally {
    options.signal?.removeEventListener('abort', abort);
    const tail = decoder.decode();
    if (tail) options.onText?.(tail);
    kv = session.kvStats();
    await session.dispose();
  }
  const text = new TextDecoder().decode(concatBytes(generated.map((id) => model.tokenizer.tokenBytes(id))));
  const rate = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);
  return {
    text,
    promptTokenIds: call.promptTokenIds,
    generatedTokenIds: generated,
    finishReason: reason,
    rawFinishReason: raw,
    device: model.device,
    usage: { inputTokens: call.promptTokenIds.length, outputTokens: generated.length, totalTokens: call.promptTokenIds.length + generated.length },
    timings: {
      prefillMs,
      decodeMs,
      prefillTokensPerSecond: rate(call.promptTokenIds.length, prefillMs),
      decodeTokensPerSecond: rate(generated.length, decodeMs),
    },
    kv,
  };
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
