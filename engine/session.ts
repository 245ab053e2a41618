// A sequence with its own KV cache on a model's runtime: for multi-turn reuse (each call appends to
// the sequence) and for step-by-step decoding (constrained JSON / tool calls).
//
// Step-by-step protocol (what the provider's constrained decoding uses):
//   await session.evaluate(promptIds)                       // prefill; the logits of the last token are kept
//   loop:
//     const id = await session.sample({ sampling, allowedTokenIds })  // draws from the kept logits, appends nothing
//     await session.evaluate([id])                          // appends id; its logits become the kept ones
// With a seed, sample() depends only on (seed, sequence length, logits), so a step-by-step run is
// reproducible. Every method queues a job on the runtime's worker thread; calls on one session run in
// call order, calls on different sessions interleave fairly. An aborted or failed call leaves the
// session exactly as it was before that call.
import type { DeviceName } from './device.js';
import { InvalidArgumentError } from './errors.js';
import { nativeProgress, runGeneration, parseSampling, type TokenText } from './generate.js';
import { awaitNative, callNative, type NativeSession } from './native.js';
import type { GenerateOptions, GenerateResult, KvStats, PrefillProgress, SamplingOptions } from './types.js';
import { GenerateStream } from './generate-stream.js';
import type { ModelConfig } from './model-spec.js';
import { preparePress } from './presses/prepare.js';
import type { PressSpec } from './presses/base.js';
import type { PressTextSource } from './presses/reconstruction-prompts.js';

export interface SessionOptions {
  /** Context window of this sequence (default: the model's context length, or LoadOptions.contextLength). */
  maxTokens?: number;
}

export interface SessionHost {
  tokens: TokenText;
  defaultStopTokenIds: number[];
  /** The model's config: what a press is checked against (prefillContext). */
  modelConfig?: ModelConfig;
  /** The model's tokenizer and chat template, for presses that feed the model text of their own (KVzip). */
  pressText?: PressTextSource;
  /** Where the model runs ('cpu' or 'cuda:N'): reported with every generation. */
  device?: DeviceName;
}

export interface PrefillContextOptions {
  /** The press that compresses the context: a name, `{ name, ...options }` or a Press. None: a plain prefill. */
  press?: PressSpec;
  signal?: AbortSignal;
  /**
   * Called as the prefill runs: layers completed (unit 'layers'; the context runs through one layer at a time,
   * then a reconstructing press's passes do), at most every progressIntervalMs, the last call with done === total
   * before the Promise settles.
   */
  onProgress?: (progress: PrefillProgress) => void;
  /** Least time between two progress calls in ms (default 100; the last call always comes). */
  progressIntervalMs?: number;
}

export interface EvaluateOptions {
  logits?: 'none' | 'last' | 'all';
  /** Called as the tokens are evaluated, chunk by chunk (unit 'tokens'), the last call with done === total. */
  onProgress?: (progress: PrefillProgress) => void;
  /** Least time between two progress calls in ms (default 100; the last call always comes). */
  progressIntervalMs?: number;
}

/** What a context prefill kept: tokens, KV slots and page bytes before and after the press, per (layer, kv-head). */
export interface PrefillContextResult {
  /** Context tokens. */
  tokensBefore: number;
  /** Tokens kept per (layer, kv-head), on average (= tokensBefore without a press); the exact counts are in lengths. */
  tokensAfter: number;
  /** KV slots of the uncompressed context: tokens × layers × kv-heads. */
  slotsBefore: number;
  /** KV slots kept over every (layer, kv-head). */
  slotsAfter: number;
  /** Page bytes the uncompressed context would hold. */
  bytesBefore: number;
  /** Page bytes the session holds now. */
  bytesAfter: number;
  perLayer: { layer: number; perHead: number[] }[];
  prefillMs: number;
  /** Position of the next token: the context length, or the kept length after key re-rotation. */
  nextPosition: number;
  /**
   * Kept KV slots that the press's top-k selection chose by its tie rule alone: their score equals the best
   * dropped slot's, and the lower slot index won (docs/PRESSES.md, "Ties"). 0 without a press.
   */
  tiedSlots: number;
  /** Slots kept per (layer, kv-head), layer-major (perLayer flattened). */
  lengths: number[];
}

function toTokenArray(ids: readonly number[], what: string): Int32Array {
  if (!Array.isArray(ids)) throw new InvalidArgumentError(`${what} must be an array of token ids`);
  for (const id of ids)
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) throw new InvalidArgumentError(`${what} holds ${id}, which is not a token id`);
  return Int32Array.from(ids);
}

function checkProgressOptions(options: { onProgress?: unknown; progressIntervalMs?: unknown }): void {
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new InvalidArgumentError('onProgress must be a function');
  const ms = options.progressIntervalMs;
  if (ms !== undefined && !(typeof ms === 'number' && ms >= 0)) throw new InvalidArgumentError(`progressIntervalMs must be a number >= 0, got ${String(ms)}`);
}

export class Session {
  private disposed = false;

  constructor(
    private readonly host: SessionHost,
    private readonly native: NativeSession,
  ) {}

  /** The context window of this sequence, in tokens. */
  get maxTokens(): number {
    return this.native.maxTokens;
  }

  /** Tokens in the sequence and bytes of KV pages it holds. */
  kvStats(): KvStats {
    return this.native.kvStats();
  }

  /** Appends tokens; returns the last token's logits ('last'), every new token's logits ('all', row-major), or nothing. */
  async evaluate(tokenIds: readonly number[], options: EvaluateOptions = {}): Promise<Float32Array | undefined> {
    this.assertLive();
    const tokens = toTokenArray(tokenIds, 'tokenIds');
    checkProgressOptions(options);
    return awaitNative(() =>
      this.native.evaluate(tokens, { logits: options.logits ?? 'last', ...nativeProgress(options.onProgress, options.progressIntervalMs) }),
    );
  }

  /**
   * Samples the next token from the logits after the last token (nothing is appended; pass the token
   * to evaluate() to accept it). allowedTokenIds restricts the choice (constrained decoding).
   */
  async sample(options: { sampling?: SamplingOptions; allowedTokenIds?: readonly number[] } = {}): Promise<number> {
    this.assertLive();
    const sampling = parseSampling(options.sampling ?? {});
    const allowed = options.allowedTokenIds === undefined ? undefined : toTokenArray(options.allowedTokenIds, 'allowedTokenIds');
    if (allowed && allowed.length === 0) throw new InvalidArgumentError('allowedTokenIds is empty: there is no token to sample');
    return awaitNative(() => this.native.sample({ sampling, allowedTokenIds: allowed }));
  }

  /**
   * Appends promptTokenIds (may be empty) and generates. The generated tokens stay in the sequence
   * (a stop token such as EOS does not), so a follow-up call continues the conversation.
   */
  async generate(promptTokenIds: readonly number[], options: GenerateOptions): Promise<GenerateResult> {
    this.assertLive();
    const prompt = Array.from(toTokenArray(promptTokenIds, 'promptTokenIds'));
    return runGeneration({ session: this.native, ...this.host }, prompt, options);
  }

  /** generate() as an async iterable of {id, text} events; `result` settles with the GenerateResult. */
  stream(promptTokenIds: readonly number[], options: GenerateOptions): GenerateStream {
    return new GenerateStream((opts) => this.generate(promptTokenIds, opts), options);
  }

  /**
   * Prefills an empty session with a context, layer-major, the press compressing each layer's cache before
   * the next layer runs (no press, or compression ratio 0: the plain prefill, bit-identical). The last context
   * token's logits are kept, so evaluate / generate continue after the compressed context. A bad press config
   * fails here with a typed error before any work. A press that acts during decoding (DecodingPress, DMS)
   * keeps acting on this session's later tokens, and on its forks' (see fork()). Tokens evaluated after the context
   * continue at its uncompressed length, or right after the kept slots when the press re-rotated the keys
   * (KeyRerotationPress, FinchPress with rerotateKeys), as kvpress positions the question.
   */
  async prefillContext(tokenIds: readonly number[], options: PrefillContextOptions = {}): Promise<PrefillContextResult> {
    this.assertLive();
    const tokens = toTokenArray(tokenIds, 'tokenIds');
    if (tokens.length === 0) throw new InvalidArgumentError('prefillContext: the context is empty');
    checkProgressOptions(options);
    let nativePress = null;
    if (options.press !== undefined) {
      if (!this.host.modelConfig) throw new InvalidArgumentError('prefillContext with a press needs a session created by Model.createSession');
      nativePress = (await preparePress(options.press, { model: this.host.modelConfig, contextTokens: tokens.length, text: this.host.pressText }))
        .native;
    }
    const signal = options.signal;
    const abort = () => this.native.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      const progress = nativeProgress(options.onProgress, options.progressIntervalMs, tokens.length);
      const pending = awaitNative(() => this.native.prefillContext(tokens, nativePress, progress));
      if (signal?.aborted) abort();
      // The native figures count (layer, kv-head) slots; tokens are what the rest of presskv reports.
      const { tokensBefore: slotsBefore, tokensAfter: slotsAfter, ...rest } = await pending;
      const lengths = rest.perLayer.flatMap((l) => l.perHead);
      const tokensAfter = lengths.length ? Math.round(slotsAfter / lengths.length) : tokens.length;
      return { ...rest, tokensBefore: tokens.length, tokensAfter, slotsBefore, slotsAfter, lengths };
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  /** Keeps the first n tokens of the sequence. */
  async truncate(n: number): Promise<void> {
    this.assertLive();
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`truncate(n): n must be an integer >= 0, got ${n}`);
    await awaitNative(() => this.native.truncate(n));
  }

  /**
   * A new session that continues from this one's current state (after every earlier call on it): it shares
   * this session's KV pages copy-on-write (no K/V bytes are copied; a page is duplicated only when either
   * side writes into it), and has its own tail. Each side's kvStats().bytes counts only its private pages,
   * sharedBytes the shared ones; Model.stats().kvBytesInUse counts shared pages once. Disposing either side
   * never frees pages the other still reads. Forks of one session decode concurrently. A press that acts during
   * decoding (prefillContext) goes with the fork in its current state (steps counted, buffered inputs), so the fork
   * compresses exactly as this session would from here; the two then go on independently.
   */
  async fork(): Promise<Session> {
    this.assertLive();
    const child = await awaitNative(() => this.native.fork());
    return new Session(this.host, child);
  }

  /**
   * The sequence's state as bytes: token history, pending token, kept logits and the KV cache (per
   * (layer, kv-head) lengths, original positions, K and V in the storage dtype), independent of the page
   * size, framed by a format version and a checksum. Built on the runtime's worker thread.
   */
  async saveKv(): Promise<Uint8Array> {
    this.assertLive();
    return awaitNative(() => this.native.saveKv());
  }

  /**
   * Replaces this sequence's state with a saveKv() payload from a model of the same shape, vocabulary and
   * KV dtype; generation then continues exactly as it would have on the saved session, and saveKv() gives
   * the same bytes again. A malformed or damaged payload is refused with ERR_CORRUPT_FILE (a CorruptModelError)
   * and the session is left as it was. Do not modify `bytes` until the returned Promise settles.
   */
  async loadKv(bytes: Uint8Array): Promise<void> {
    this.assertLive();
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('loadKv(bytes) needs a Uint8Array from saveKv()');
    await awaitNative(() => this.native.loadKv(bytes));
  }

  /** Stops the running and queued calls of this session within one step. */
  abort(): void {
    if (!this.disposed) callNative(() => this.native.abort());
  }

  /** Aborts pending calls and frees the KV cache. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await awaitNative(() => this.native.dispose());
  }

  private assertLive(): void {
    if (this.disposed) throw new InvalidArgumentError('This session has been disposed');
  }
}
