// One generation request on a native session: validates the options, streams token text (never half a
// UTF-8 character, never text past a stop sequence), wires AbortSignal to the native abort, and turns
// the native result into a GenerateResult.
import type { DeviceName } from './device.js';
import { z } from 'zod';
import { ContextOverflowError, InvalidArgumentError } from './errors.js';
import { awaitNative, type NativeFinishReason, type NativeProgressOptions, type NativeSampling, type NativeSession } from './native.js';
import type { FinishReason, GenerateOptions, GenerateResult, PrefillProgress, SamplingOptions } from './types.js';

/** llama.cpp's defaults, applied to every field the caller leaves out. */
export const DEFAULT_SAMPLING: Required<Omit<SamplingOptions, 'seed'>> = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  penaltyLastN: 64,
};

const finite = () => z.number().refine(Number.isFinite, 'must be a finite number');

export const samplingSchema = z.object({
  temperature: finite().min(0, 'must be >= 0 (0 = greedy)').optional(),
  topK: z.number().int('must be an integer').min(0, 'must be >= 0 (0 = off)').optional(),
  topP: finite().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]').optional(),
  minP: finite().min(0, 'must be in [0, 1]').max(1, 'must be in [0, 1]').optional(),
  repetitionPenalty: finite().gt(0, 'must be > 0 (1 = off)').optional(),
  presencePenalty: finite().optional(),
  frequencyPenalty: finite().optional(),
  penaltyLastN: z.number().int('must be an integer').min(-1, 'must be -1 (all), 0 (off) or a count').optional(),
  seed: z.number().int('must be an integer').refine(Number.isSafeInteger, 'must be a safe integer').optional(),
});

export const generateOptionsSchema = samplingSchema.extend({
  maxTokens: z.number().int('must be an integer').min(0, 'must be >= 0'),
  stopSequences: z.array(z.string().min(1, 'must not be empty')).optional(),
  stopTokenIds: z.array(z.number().int().min(0)).optional(),
  signal: z.custom<AbortSignal>((v) => v === undefined || v instanceof AbortSignal, 'must be an AbortSignal').optional(),
  onToken: z.custom<GenerateOptions['onToken']>((v) => v === undefined || typeof v === 'function', 'must be a function').optional(),
  onText: z.custom<GenerateOptions['onText']>((v) => v === undefined || typeof v === 'function', 'must be a function').optional(),
  onPrefillProgress: z
    .custom<GenerateOptions['onPrefillProgress']>((v) => v === undefined || typeof v === 'function', 'must be a function')
    .optional(),
  progressIntervalMs: finite().min(0, 'must be >= 0').optional(),
});

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
}

/** Validates sampling values (typed InvalidArgumentError naming each bad field). */
export function parseSampling(options: SamplingOptions): NativeSampling {
  const parsed = samplingSchema.safeParse(options);
  if (!parsed.success) throw new InvalidArgumentError(`Invalid sampling options: ${describeIssues(parsed.error)}`);
  return toNativeSampling(parsed.data);
}

function toNativeSampling(o: SamplingOptions): NativeSampling {
  const s: NativeSampling = {};
  for (const key of Object.keys(DEFAULT_SAMPLING) as (keyof typeof DEFAULT_SAMPLING)[]) s[key] = o[key] ?? DEFAULT_SAMPLING[key];
  if (o.seed !== undefined) s.seed = o.seed;
  return s;
}

export function parseGenerateOptions(options: GenerateOptions): GenerateOptions {
  const parsed = generateOptionsSchema.safeParse(options);
  if (!parsed.success) throw new InvalidArgumentError(`Invalid generate options: ${describeIssues(parsed.error)}`);
  return options;
}

/** What generation needs from the tokenizer. */
export interface TokenText {
  tokenBytes(id: number): Uint8Array;
}

const FINISH: Record<NativeFinishReason, FinishReason> = {
  eos: 'stop',
  'max-tokens': 'length',
  'context-full': 'length',
  'stop-sequence': 'stop-sequence',
  abort: 'abort',
};

/**
 * Incremental text of the generated tokens. Text that might be the start of a stop sequence is held
 * back until it is known not to be one, so streamed text never contains (part of) a stop sequence.
 */
export class StreamingText {
  private readonly decoder = new TextDecoder('utf-8');
  private text = '';
  private emitted = 0;
  /** Where the earliest stop sequence starts, once one has appeared. */
  private cut: number | undefined;

  constructor(private readonly tokens: TokenText, private readonly stops: string[]) {}

  /** Adds a token; returns the newly safe text ('' inside a UTF-8 character or a possible stop). */
  push(id: number): string {
    this.append(this.decoder.decode(this.tokens.tokenBytes(id), { stream: true }));
    return this.emit(this.text.length - this.heldBack());
  }

  /** Ends the stream; returns the rest of the text (cut before the first stop sequence if one matched). */
  finish(): string {
    this.append(this.decoder.decode());
    return this.emit(this.text.length);
  }

  finalText(): string {
    return this.text.slice(0, this.cut ?? this.text.length);
  }

  private append(piece: string): void {
    if (!piece) return;
    const before = this.text.length;
    this.text += piece;
    if (this.cut !== undefined) return;
    // Only matches that end in the new piece are new.
    for (const s of this.stops) {
      const at = this.text.indexOf(s, Math.max(0, before - s.length + 1));
      if (at >= 0 && (this.cut === undefined || at < this.cut)) this.cut = at;
    }
  }

  private emit(upTo: number): string {
    const end = Math.min(upTo, this.cut ?? upTo);
    if (end <= this.emitted) return '';
    const out = this.text.slice(this.emitted, end);
    this.emitted = end;
    return out;
  }

  private heldBack(): number {
    let hold = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.text.length); n > hold; n--) {
        if (this.text.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    return hold;
  }
}

export interface GenerationContext {
  session: NativeSession;
  tokens: TokenText;
  /** Used when options.stopTokenIds is absent. */
  defaultStopTokenIds: number[];
  device?: DeviceName;
}

/**
 * The native progress options for a PrefillProgress callback (none without one). `tokens`: the prefill's
 * tokens for a layer-major prefill; a token-counting one reports its own total.
 */
export function nativeProgress(
  onProgress: ((progress: PrefillProgress) => void) | undefined,
  intervalMs: number | undefined,
  tokens?: number,
): NativeProgressOptions {
  if (!onProgress) return {};
  return {
    onProgress: (done, total, unit, elapsedMs) =>
      onProgress({ done, total, unit, tokens: unit === 'tokens' ? total : (tokens ?? total), elapsedMs }),
    ...(intervalMs === undefined ? {} : { progressIntervalMs: intervalMs }),
  };
}

/** Runs one generate request; the session keeps the prompt and generated tokens afterwards. */
export async function runGeneration(ctx: GenerationContext, promptTokenIds: number[], options: GenerateOptions): Promise<GenerateResult> {
  parseGenerateOptions(options);
  const sampling = toNativeSampling(options);
  const used = ctx.session.kvStats().tokens;
  if (used + promptTokenIds.length > ctx.session.maxTokens) {
    throw new ContextOverflowError(
      `The prompt has ${promptTokenIds.length} tokens${used ? ` (+${used} already in the session)` : ''}, more than the context window of ${ctx.session.maxTokens} tokens.`,
    );
  }
  const stops = options.stopSequences ?? [];
  const encoder = new TextEncoder();
  const text = new StreamingText(ctx.tokens, stops);
  const generatedIds: number[] = [];
  const onToken = (id: number) => {
    generatedIds.push(id);
    const delta = text.push(id);
    options.onToken?.({ id, text: delta });
    if (delta) options.onText?.(delta);
  };

  const signal = options.signal;
  const abort = () => ctx.session.abort();
  signal?.addEventListener('abort', abort, { once: true });
  let native;
  try {
    const pending = awaitNative(() =>
      ctx.session.generate(
        {
          sampling,
          maxTokens: options.maxTokens,
          stopTokenIds: Int32Array.from(options.stopTokenIds ?? ctx.defaultStopTokenIds),
          stopSequences: stops.map((s) => encoder.encode(s)),
          promptTokens: Int32Array.from(promptTokenIds),
          ...nativeProgress(options.onPrefillProgress, options.progressIntervalMs),
        },
        onToken,
      ),
    );
    // An already-aborted signal never fires 'abort': stop the job we just queued.
    if (signal?.aborted) abort();
    native = await pending;
  } finally {
    signal?.removeEventListener('abort', abort);
  }

  // Every token callback was queued before the result: all of them have run by now.
  const tail = text.finish();
  if (tail) options.onText?.(tail);
  const generated = Array.from(native.tokens);
  const finishReason = FINISH[native.finishReason];
  const rawFinishReason = native.finishReason === 'stop-sequence' ? stops[native.stopSequenceIndex ?? 0] : native.finishReason;
  const rate = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);
  const kv = ctx.session.kvStats();
  return {
    text: text.finalText(),
    promptTokenIds: [...promptTokenIds],
    generatedTokenIds: generated,
    finishReason,
    rawFinishReason,
    usage: { inputTokens: promptTokenIds.length, outputTokens: generated.length, totalTokens: promptTokenIds.length + generated.length },
    timings: {
      prefillMs: native.prefillMs,
      decodeMs: native.decodeMs,
      prefillTokensPerSecond: rate(native.promptTokens, native.prefillMs),
      decodeTokensPerSecond: rate(generated.length, native.decodeMs),
    },
    kv: { tokens: kv.tokens, bytes: kv.bytes, lengths: kv.lengths },
    device: ctx.device ?? 'cpu',
  };
}
