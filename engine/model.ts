// A loaded model: weights (memory-mapped by the native side), tokenizer, chat template, and one native
// runtime (a worker thread) that serves every request on it. Concurrent generate() calls each get their
// own sequence and are interleaved fairly by the runtime.
import { autoMayFallBack, deviceCandidates, nativeDeviceIndex, parseDevice, type DeviceName } from './device.js';
import { ContextOverflowError, InternalError, InvalidArgumentError } from './errors.js';
import { runGeneration } from './generate.js';
import { GenerateStream } from './generate-stream.js';
import { resolveModelPath } from './hub.js';
import { readModelFiles, type ModelFiles } from './model-files.js';
import { callNative, nativeAddon, type NativeModelHandle, type NativeRuntime, type NativeRuntimeStats } from './native.js';
import { Session, type SessionOptions } from './session.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';
import type { PressTextSource } from './presses/reconstruction-prompts.js';
import type { GenerateOptions, GenerateResult, LoadOptions, ModelInfo } from './types.js';


function positiveInt(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1))
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
}

export class Model {
  readonly info: ModelInfo;
  readonly tokenizer: TextTokenizer;
  readonly chatTemplate?: string;
  /** Context window of every sequence (LoadOptions.contextLength or the model's). */
  readonly contextLength: number;
  /** Where this model's forward pass runs ('cpu' or 'cuda:N'; LoadOptions.device). */
  device: DeviceName = 'cpu';
  /** With device 'auto' on the CPU: why no CUDA device was used. */
  deviceFallbackReason?: string;
  private readonly stopTokenIds: number[];
  private disposed = false;

  private constructor(
    readonly files: ModelFiles,
    tokenizer: TextTokenizer,
    private readonly handle: NativeModelHandle,
    private readonly runtime: NativeRuntime,
    contextLength: number,
  ) {
    this.tokenizer = tokenizer;
    this.chatTemplate = files.chatTemplate;
    this.contextLength = contextLength;
    const eos = new Set<number>([...files.generationConfig.eosTokenIds, ...tokenizer.eosTokenIds]);
    this.stopTokenIds = [...eos].filter((id) => id >= 0 && id < files.spec.config.vocab);
    const dtypes = [...new Set(files.spec.tensors.map((t) => t.dtype))];
    this.info = {
      path: files.path,
      format: files.format,
      config: files.spec.config,
      weightDtypes: dtypes,
      parameterCount: files.spec.tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0),
      weightBytes: callNative(() => handle.weightBytes()),
      bosTokenId: files.generationConfig.bosTokenId ?? tokenizer.bosTokenId,
      eosTokenIds: this.stopTokenIds,
      addBos: tokenizer.addBos,
      hasChatTemplate: Boolean(files.chatTemplate),
      tokenizer: { kind: tokenizer.kind, vocabSize: tokenizer.vocabSize },
    };
  }

  /** Loads a .gguf file, an HF-format directory, or an org/name hub id. */
  static async load(pathOrId: string, options: LoadOptions = {}): Promise<Model> {
    if (typeof pathOrId !== 'string' || pathOrId.length === 0) throw new InvalidArgumentError('Model.load needs a path or a model id');
    positiveInt(options.threads, 'threads');
    positiveInt(options.contextLength, 'contextLength');
    positiveInt(options.prefillChunk, 'prefillChunk');
    positiveInt(options.decodeBatch, 'decodeBatch');
    if (options.decodeBatch !== undefined && options.decodeBatch > 256)
      throw new InvalidArgumentError(`decodeBatch must be at most 256, got ${options.decodeBatch}`);
    if (options.kvBudgetBytes !== undefined && !(Number.isSafeInteger(options.kvBudgetBytes) && options.kvBudgetBytes >= 0))
      throw new InvalidArgumentError(`kvBudgetBytes must be an integer >= 0 (0 = unlimited), got ${options.kvBudgetBytes}`);
    if (options.kvDtype !== undefined && options.kvDtype !== 'f16' && options.kvDtype !== 'f32')
      throw new InvalidArgumentError(`kvDtype must be 'f16' or 'f32', got '${String(options.kvDtype)}'`);
    const files = await readModelFiles(await resolveModelPath(pathOrId, { cacheDir: options.cacheDir }));
    const tokenizer = await loadTokenizer(files);
    const addon = nativeAddon();
    const request = parseDevice(options.device);
    const { order, skipped } = deviceCandidates(request, callNative(() => addon.systemInfo()));
    const handle = callNative(() => addon.loadModel(files.spec, { threads: options.threads, mmap: options.mmap ?? false }));
    let runtime: NativeRuntime | undefined;
    let device: DeviceName = 'cpu';
    let fallbackReason = skipped;
    try {
      for (const candidate of order) {
        try {
          runtime = callNative(() =>
            addon.createRuntime(handle, {
              threads: options.threads,
              kvDtype: options.kvDtype ?? 'f16',
              prefillChunk: options.prefillChunk,
              decodeBatch: options.decodeBatch,
              kvBudgetBytes: options.kvBudgetBytes,
              device: nativeDeviceIndex(candidate),
            }),
          );
          device = candidate;
          break;
        } catch (err) {
          if (request.kind !== 'auto' || candidate === 'cpu' || !autoMayFallBack(err)) throw err;
          fallbackReason = `${candidate}: ${(err as Error).message}`;
        }
      }
      if (!runtime) throw new InternalError('no device could run the model');
      const created = runtime;
      const vocab = files.spec.config.vocab;
      const empty = new Uint8Array(0);
      callNative(() => created.setVocabulary(Array.from({ length: vocab }, (_, id) => (id < tokenizer.vocabSize ? tokenizer.tokenBytes(id) : empty))));
    } catch (err) {
      runtime?.dispose();
      handle.dispose();
      throw err;
    }
    const model = new Model(files, tokenizer, handle, runtime, options.contextLength ?? files.spec.config.contextLength);
    model.device = device;
    model.deviceFallbackReason = device === 'cpu' && request.kind === 'auto' ? fallbackReason : undefined;
    return model;
  }

  /** Token ids of text (addSpecialTokens: BOS etc. as the tokenizer adds them; default true). */
  tokenize(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { addSpecialTokens: options.addSpecialTokens ?? true });
  }

  detokenize(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    return this.tokenizer.decode([...ids], { skipSpecialTokens: options.skipSpecialTokens ?? true });
  }

  /** The tokenizer and chat template (with BOS/EOS texts) that presses feeding text of their own (KVzip) tokenise with. */
  get pressText(): PressTextSource {
    const { bosTokenId, eosTokenIds } = this.info;
    return {
      tokenizer: this.tokenizer,
      chatTemplate: this.chatTemplate,
      bosToken: bosTokenId !== undefined ? this.tokenizer.tokenPiece(bosTokenId) : undefined,
      eosToken: eosTokenIds.length ? this.tokenizer.tokenPiece(eosTokenIds[0]!) : undefined,
    };
  }

  /**
   * A sequence with its own KV cache (multi-turn reuse, step-by-step decoding). Dispose it when done.
   * With `kv` (bytes from Session.saveKv) the session starts from that saved state: the call then returns a
   * Promise that rejects with ERR_CORRUPT_FILE for a malformed payload (no session is left behind).
   */
  createSession(options: SessionOptions & { kv: Uint8Array }): Promise<Session>;
  createSession(options?: SessionOptions): Session;
  createSession(options: SessionOptions & { kv?: Uint8Array } = {}): Session | Promise<Session> {
    this.assertLive();
    positiveInt(options.maxTokens, 'maxTokens');
    if (options.kv !== undefined && !(options.kv instanceof Uint8Array))
      throw new InvalidArgumentError('createSession({ kv }) needs a Uint8Array from Session.saveKv()');
    const native = callNative(() => this.runtime.createSession({ maxTokens: options.maxTokens ?? this.contextLength }));
    const session = new Session(
      { tokens: this.tokenizer, defaultStopTokenIds: this.stopTokenIds, modelConfig: this.files.spec.config, pressText: this.pressText, device: this.device },
      native,
    );
    if (options.kv === undefined) return session;
    const kv = options.kv;
    return (async () => {
      try {
        await session.loadKv(kv);
        return session;
      } catch (err) {
        await session.dispose();
        throw err;
      }
    })();
  }

  /**
   * Identifies the weights and config (a hash over the config and samples of every tensor, computed once at
   * load): equal fingerprints = the same model for context keys and saved KV files.
   */
  fingerprint(): string {
    this.assertLive();
    return callNative(() => this.handle.fingerprint());
  }

  /**
   * Generates from promptTokenIds (already tokenized, BOS included if wanted) on a fresh sequence.
   * Abort (options.signal) ends it within one step with finishReason 'abort' and the tokens so far.
   */
  async generate(promptTokenIds: readonly number[], options: GenerateOptions): Promise<GenerateResult> {
    this.assertLive();
    if (promptTokenIds.length === 0) throw new InvalidArgumentError('The prompt is empty: pass at least one token id');
    if (promptTokenIds.length > this.contextLength)
      throw new ContextOverflowError(
        `The prompt has ${promptTokenIds.length} tokens, more than the context window of ${this.contextLength} tokens.`,
      );
    const session = this.createSession();
    try {
      return await session.generate(promptTokenIds, options);
    } finally {
      await session.dispose();
    }
  }

  /** generate() as an async iterable of {id, text} events, with `result` for the final GenerateResult. */
  stream(promptTokenIds: readonly number[], options: GenerateOptions): GenerateStream {
    return new GenerateStream((opts) => this.generate(promptTokenIds, opts), options);
  }

  /** Runtime figures: KV bytes in use across all sequences, queued jobs, threads. */
  stats(): NativeRuntimeStats {
    return callNative(() => this.runtime.stats());
  }

  /** Stops the worker (pending calls fail with ERR_ABORTED) and releases the weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runtime.dispose();
    this.handle.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new InvalidArgumentError('This model has been disposed');
  }
}
