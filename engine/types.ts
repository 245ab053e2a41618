// The public shapes of the TypeScript engine API. Implementations live beside this file
// (model.ts, session.ts, generate.ts); the provider, CLI and server consume only these.
import type { ModelConfig } from './model-spec.js';

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** How many recent tokens the penalties look at (default 64). */
  penaltyLastN?: number;
  /** Same seed + same settings + same prompt = same tokens. */
  seed?: number;
}

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number;
  stopSequences?: string[];
  /** Defaults to the model's EOS ids (generation_config's list included). */
  stopTokenIds?: number[];
  signal?: AbortSignal;
  /**
   * Called for every generated token with the text it completes (may be '' mid UTF-8 character, or while
   * the text so far could be the start of a stop sequence: such text arrives later, or through onText at the end).
   */
  onToken?: (token: { id: number; text: string }) => void;
  /** Called with each new piece of text; the pieces concatenate to exactly result.text. */
  onText?: (delta: string) => void;
  /**
   * Called as the prompt is prefilled (chunk by chunk, at most every progressIntervalMs), ending with
   * done === total before the first token; not called when there is nothing to prefill.
   */
  onPrefillProgress?: (progress: PrefillProgress) => void;
  /** Least time between two progress calls in ms (default 100; the last call always comes). */
  progressIntervalMs?: number;
}

/**
 * How far a prefill has come. A plain prefill counts tokens evaluated; a layer-major context prefill
 * (Session.prefillContext: the whole context through each layer in turn, a press compressing it) counts
 * layers completed, of every layer of the context's forward and of a reconstructing press's (KVzip) passes.
 * Calls come in order with done increasing, the last with done === total.
 */
export interface PrefillProgress {
  done: number;
  total: number;
  unit: 'tokens' | 'layers';
  /** Tokens this prefill evaluates (the context's tokens for a layer-major prefill). */
  tokens: number;
  /** How long the native prefill has run so far, in ms (as its result's prefillMs counts it). */
  elapsedMs: number;
}

export type FinishReason = 'stop' | 'length' | 'abort' | 'stop-sequence';

export interface Timings {
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface KvStats {
  /** Logical tokens in the sequence (next position). */
  tokens: number;
  /** Bytes of KV pages only this sequence holds (with forks: its private tail). */
  bytes: number;
  /**
   * Bytes of KV pages it shares with forks (Session.fork): read by several sequences, stored once and
   * counted once in Model.stats().kvBytesInUse. bytes + sharedBytes = everything this sequence reads.
   * Figures are as of the session's last call.
   */
  sharedBytes?: number;
  /**
   * KV slots held per (layer, kv-head), layer-major: the sequence's tokens where no press acted, fewer where
   * one did (prefillContext, and decoding presses while generating). Empty once disposed.
   */
  lengths?: number[];
}

export interface GenerateResult {
  text: string;
  promptTokenIds: number[];
  generatedTokenIds: number[];
  finishReason: FinishReason;
  /** The raw reason: 'eos', 'max-tokens', the stop sequence that matched, or 'abort'. */
  rawFinishReason: string;
  usage: { inputTokens: number; outputTokens: number; totalTokens: number };
  timings: Timings;
  kv: KvStats;
  /** Where the forward pass ran: 'cpu' or 'cuda:N' (LoadOptions.device). */
  device: 'cpu' | `cuda:${number}`;
}

export interface ModelInfo {
  path: string;
  format: 'gguf' | 'hf';
  config: ModelConfig;
  weightDtypes: string[];
  parameterCount: number;
  weightBytes: number;
  bosTokenId?: number;
  eosTokenIds: number[];
  addBos: boolean;
  hasChatTemplate: boolean;
  tokenizer: { kind: string; vocabSize: number };
}

export interface LoadOptions {
  /**
   * How the weights reach memory. Default `false`: read into private memory (with transparent huge pages),
   * the fast path — on this project's VMs decode from file-backed mappings runs 1.7–2.8× slower (docs/BENCHMARKS.md).
   * `true` maps the files instead (nothing copied, pages shared with other processes), like llama.cpp's default.
   */
  mmap?: boolean;
  threads?: number;
  /** Max tokens per sequence; defaults to the model's context length. */
  contextLength?: number;
  /** KV storage type: 'f16' (default) or 'f32'. */
  kvDtype?: 'f16' | 'f32';
  /** Tokens per prefill chunk (default 256). */
  prefillChunk?: number;
  /**
   * Most decode tokens of concurrent generations evaluated in one forward pass, which reads the weights
   * once for all of them (default 16, at most 256; 1 turns batching off).
   */
  decodeBatch?: number;
  /** Byte budget of the KV pages of all sequences together (default: unlimited); beyond it a request fails with KvOutOfMemoryError. */
  kvBudgetBytes?: number;
  /** Directory for hub downloads (org/name ids). */
  cacheDir?: string;
  /**
   * Where the forward pass runs: 'cpu', 'cuda' (= 'cuda:0'), 'cuda:N', or 'auto' (default: the first
   * CUDA device when one works, else the CPU). An explicit CUDA device that cannot be used is a
   * DeviceUnavailableError naming the reason.
   */
  device?: DeviceOption;
}

export type DeviceOption = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
