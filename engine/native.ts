// Loads the native addon and declares its surface. Every other engine module reaches native code
// through this file, and every native error leaves through callNative/awaitNative as a typed error.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromNativeError, InternalError } from './errors.js';
import type { SamplingOptions } from './types.js';

/** The numbers the native sampler takes: the public SamplingOptions, checked and resolved (generate.ts parseSampling). */
export type NativeSampling = SamplingOptions;

export interface NativeModelHandle {
  weightBytes(): number;
  fingerprint(): string;
  dispose(): void;
  evalLogits(tokens: Int32Array, options?: { all?: boolean; kvDtype?: 'f16' | 'f32'; chunkSize?: number; pageTokens?: number; device?: number }): Float32Array;
}

export interface NativeRuntimeOptions {
  threads?: number;
  kvBudgetBytes?: number;
  kvDtype?: 'f16' | 'f32';
  pageTokens?: number;
  prefillChunk?: number;
  /** Most decode tokens of concurrent generations evaluated in one forward pass (1..256, default 16; 1 = no batching). */
  decodeBatch?: number;
  /** -1: the CPU (default); N: CUDA device N. */
  device?: number;
}

export interface NativeRuntimeStats {
  kvBytesInUse: number;
  kvBudgetBytes: number;
  pendingJobs: number;
  threads: number;
  prefillChunk: number;
  kvDtype: 'f16' | 'f32';
  decodeBatch: number;
  /** Batched decode forward passes so far, the tokens they evaluated, and the most in one pass. */
  batchedDecodePasses: number;
  batchedDecodeRows: number;
  largestDecodeBatch: number;
  /** -1: the CPU; N: CUDA device N. */
  device: number;
  /** Device bytes of a GPU runtime: uploaded weights, mirrored KV pages (whole process), scratch. Zero on the CPU. */
  deviceMemory: { weights: number; kvMirror: number; scratch: number };
}

export interface NativeGenerateRequest {
  sampling: NativeSampling;
  maxTokens: number;
  stopTokenIds?: Int32Array;
  /** UTF-8 byte strings, matched against the concatenated token bytes of the generated text. */
  stopSequences?: Uint8Array[];
  /** Evaluated first (prefill); may be empty to continue from the session's last token. */
  promptTokens?: Int32Array;
  onProgress?: NativeProgressCallback;
  progressIntervalMs?: number;
}

/**
 * Progress of a job's prefill (native/src/addon/js-reply.h): tokens evaluated, or layers completed for a
 * layer-major prefill, and the ms it has run; at most one call per progressIntervalMs (default 100), the last
 * with done === total.
 */
export type NativeProgressCallback = (done: number, total: number, unit: 'tokens' | 'layers', elapsedMs: number) => void;
export interface NativeProgressOptions {
  onProgress?: NativeProgressCallback;
  progressIntervalMs?: number;
}

export type NativeFinishReason = 'eos' | 'max-tokens' | 'stop-sequence' | 'abort' | 'context-full';

export interface NativeGenerateResult {
  /** Generated tokens; a stop token (EOS) is not included, the token completing a stop sequence is. */
  tokens: Int32Array;
  finishReason: NativeFinishReason;
  stopSequenceIndex?: number;
  /** Tokens evaluated during prefill (promptTokens plus any pending token of the session). */
  promptTokens: number;
  prefillMs: number;
  decodeMs: number;
}

export interface NativeSession {
  readonly maxTokens: number;
  evaluate(tokens: Int32Array, options?: { logits?: 'none' | 'last' | 'all' } & NativeProgressOptions): Promise<Float32Array | undefined>;
  generate(request: NativeGenerateRequest, onToken?: (id: number) => void): Promise<NativeGenerateResult>;
  sample(options: { sampling?: NativeSampling; allowedTokenIds?: Int32Array }): Promise<number>;
  abort(): void;
  kvStats(): { tokens: number; bytes: number; sharedBytes: number; lengths: number[] };
  truncate(n: number): Promise<void>;
  dispose(): Promise<void>;
  /** A new session sharing this one's KV pages copy-on-write, with its history, pending token and logits. */
  fork(): Promise<NativeSession>;
  /** The session's state as a page-size independent payload (native/src/addon/session-snapshot.h). */
  saveKv(): Promise<Uint8Array>;
  /** Replaces the session's state with a saveKv() payload; the bytes must stay unchanged until it settles. */
  loadKv(bytes: Uint8Array): Promise<void>;
  /** Layer-major context prefill with a press (native/src/addon/session-press-job.h); needs an empty session. */
  prefillContext(
    tokens: Int32Array,
    press: import('./presses/base.js').NativePressConfig | null,
    options?: NativeProgressOptions,
  ): Promise<Omit<import('./session.js').PrefillContextResult, 'lengths' | 'slotsBefore' | 'slotsAfter'>>;
}

export interface NativeRuntime {
  createSession(options?: { maxTokens?: number }): NativeSession;
  setVocabulary(tokenBytes: Uint8Array[]): void;
  stats(): NativeRuntimeStats;
  dispose(): void;
}

export interface NativeSystemInfo {
  cpu: { avx2: boolean; fma: boolean; f16c: boolean; avx512f: boolean; avx512bf16: boolean };
  cuda: {
    compiled: boolean;
    runtimeVersion: number;
    error: string | null;
    devices: { name: string; computeCapability: number; totalMemory: number }[];
  };
}

/** This machine's ceilings with `threads` threads, measured by the CPU kernels presskv runs (cpu/ceiling-probe.h). */
export interface MeasuredCeilings {
  threads: number;
  /** The kernel table that ran the probes: 'avx512' | 'avx2' | 'portable'. */
  kernels: string;
  /** Best streaming read bandwidth over a buffer far larger than the caches (GB/s, 1e9 bytes). */
  readGBPerSecond: number;
  /** Best fp32 FMA throughput over independent chains on every thread (GFLOP/s). */
  fmaGFlopPerSecond: number;
  bufferBytes: number;
}

export interface NativeAddon {
  systemInfo(): NativeSystemInfo;
  /** Blocks for about half a second. */
  measureCeilings(threads: number): MeasuredCeilings;
  /** spec: engine/model-spec.ts ModelSpec. */
  loadModel(spec: unknown, options?: { threads?: number; mmap?: boolean }): NativeModelHandle;
  createRuntime(model: NativeModelHandle, options?: NativeRuntimeOptions): NativeRuntime;
  samplerDistribution(logits: Float32Array, sampling: NativeSampling, history?: Int32Array, allowed?: Int32Array): Float32Array;
  samplerDraw(logits: Float32Array, sampling: NativeSampling, history: Int32Array | undefined, allowed: Int32Array | undefined, count: number): Int32Array;
  /** One CPU matmul kernel on given rows (tests): m×n, or null when this CPU lacks those kernels. */
  matmulKernel(
    kernels: 'portable' | 'avx2' | 'avx512' | 'auto',
    x: Float32Array,
    m: number,
    weights: Float32Array | Uint16Array,
    dtype: 'f32' | 'f16' | 'bf16',
    n: number,
    k: number,
  ): Float32Array | null;
  /** One CPU kernel's attention weights exp(s − max) / Σ, optionally rounded to f16 (tests); null when this CPU lacks it. */
  softmaxKernel(kernels: 'portable' | 'avx2' | 'avx512' | 'auto', scores: Float32Array, max: number, roundToF16: boolean): Float32Array | null;
}

function findRepoRoot(start: string): string {
  // engine/native.ts runs from engine/ (sources under vitest) or dist/engine/ (compiled).
  let dir = start;
  for (let i = 0; i < 4; i++) {
    if (existsSync(resolve(dir, 'package.json')) && existsSync(resolve(dir, 'native'))) return dir;
    dir = dirname(dir);
  }
  return resolve(start, '..');
}

let cached: NativeAddon | undefined;

/** The loaded addon: PRESSKV_ADDON if set, else <repo>/build/Release/presskv.node. */
export function nativeAddon(): NativeAddon {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  const path = process.env.PRESSKV_ADDON || resolve(findRepoRoot(here), 'build', 'Release', 'presskv.node');
  if (!existsSync(path)) {
    throw new InternalError(
      `The presskv native addon is missing (${path}). Run \`npm install\` (or \`npm run build:native\`) in the presskv package to build it.`,
    );
  }
  try {
    cached = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    throw new InternalError(`Could not load the presskv native addon at ${path}: ${(err as Error).message}. Rebuild it with \`npm install\`.`, { cause: err });
  }
  return cached;
}

/** Runs a synchronous native call, rethrowing its error as the matching typed error. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw fromNativeError(err);
  }
}

/** Awaits a native Promise (or a call that may throw synchronously), rethrowing errors as typed errors. */
export async function awaitNative<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fromNativeError(err);
  }
}
