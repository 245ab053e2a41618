// The context store: contexts (a document, a system prompt, a conversation prefix) prefilled once — with a
// press, compressed — and kept, so that many calls append only their question. Keyed by a hash of (model
// fingerprint, tokenizer, press config, context token ids); a byte budget with LRU eviction, TTLs,
// get / list / delete / extend, and optional persistence in a cacheDir (engine/context-file.ts).
//
// How a request uses a context. Each stored context is one live session holding the context's KV cache (all
// its tokens, and the last token's logits). A request forks it copy-on-write — the context's pages are shared,
// the question and answer go to the fork's private pages — generates, and disposes the fork, so the stored
// context never changes and N concurrent requests hold one context plus N tails. A press that acts during
// decoding (DecodingPress, CAMPress, PrefillDecodingPress, DMSPress with decoding) goes with every fork, so each
// request's own tokens keep being compressed. With a cacheDir the session's saved state (Session.saveKv) is
// written into the context's file and loaded back as is after a restart — except for contexts whose press acts
// during decoding: the saved KV does not hold the press's state, so they are stored as tokens and prefilled again.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import {
  checkContextIdentity,
  contextFilePath,
  CONTEXT_FILE_EXTENSION,
  CONTEXT_FILE_VERSION,
  encodeContextFile,
  readContextFile,
  removeStaleContextTempFiles,
  writeFileAtomic,
  type ContextFileHeader,
} from './context-file.js';
import { contextIdOf, contextKey, isContextId, modelFingerprint, pressConfigOf, tokenizerHash, type ContextIdentity } from './context-key.js';
import { AbortedError, ContextOverflowError, InvalidArgumentError, KvOutOfMemoryError, PressKVError } from './errors.js';
import type { Model } from './model.js';
import type { Press, PressSpec } from './presses/base.js';
import { preparePress } from './presses/prepare.js';
import { createPress } from './presses/registry.js';
import type { Session } from './session.js';
import type { GenerateOptions, GenerateResult, PrefillProgress } from './types.js';

/** A context id that names no stored context (never created, deleted, expired or evicted). */
export class ContextNotFoundError extends PressKVError {
  constructor(message: string) {
    super('ERR_NOT_FOUND', message);
  }
}

export interface ContextStoreOptions {
  /** KV bytes all resident contexts may hold together; the least recently used are evicted beyond it. Default: no limit. */
  maxBytes?: number;
  /** Persist contexts here (one file each) and load them on first use after a restart. */
  cacheDir?: string;
  /** TTL of contexts created without one, in seconds (default 3600). */
  defaultTtlSeconds?: number;
  /** Clock in ms (tests). */
  now?: () => number;
  /**
   * Called as a context's KV cache is prefilled (creation, or the first use of a persisted context whose KV
   * is not on disk): Session.prefillContext's progress, with the context's id. `presskv serve` logs it.
   */
  onPrefillProgress?: (contextId: string, progress: PrefillProgress) => void;
}

export interface CreateContextInput {
  /** The context's token ids, exactly as they start every prompt that uses it (BOS included if the model wants one). */
  tokenIds: readonly number[];
  /** The press that compresses the context (a press, a name, or `{ name, ...options }`). */
  press?: PressSpec;
  /** Seconds until the context expires (0 = never). */
  ttlSeconds?: number;
  name?: string;
  /** What the caller needs to use the context later (e.g. the server keeps the context's messages); persisted. */
  meta?: Record<string, unknown>;
  signal?: AbortSignal;
}

export interface ContextInfo {
  id: string;
  name: string | null;
  /** Context tokens (uncompressed). */
  tokensBefore: number;
  /** Tokens kept per (layer, kv-head) on average after the press. */
  tokensAfter: number;
  /** KV bytes the context holds. */
  bytes: number;
  /** KV bytes the context would hold uncompressed (null when unknown, e.g. a file from before this field). */
  bytesBefore: number | null;
  /** Whether a press really compressed the cache (false: no press, or the engine cannot apply presses yet). */
  compressed: boolean;
  press: Record<string, unknown> | null;
  createdAt: number;
  /** ms since the epoch; null = never. */
  expiresAt: number | null;
  /** Prefill time of the context (the time every call using it saves), ms. */
  prefillMs: number;
  /** Whether its KV cache is in memory now (false: evicted or not yet loaded from the cacheDir). */
  resident: boolean;
  persisted: boolean;
  meta: Record<string, unknown> | null;
}

export interface CreateContextResult extends ContextInfo {
  /** True when an equal context (same model, tokens and press) was already stored and is returned as is. */
  existed: boolean;
}

export interface ContextUse {
  contextId: string;
  /** Prompt tokens whose KV came from the stored context rather than from this call's prefill. */
  cachedTokens: number;
  tokensBefore: number;
  tokensAfter: number;
  bytes: number;
  bytesBefore: number | null;
  /** Whether a press really compressed the stored context (as ContextInfo.compressed). */
  compressed: boolean;
  /** False when the context had to be rebuilt first (after eviction or a restart). */
  cacheHit: boolean;
  /** The press that compressed the stored context (its config), null for an uncompressed one. */
  press: Record<string, unknown> | null;
  /** Prefill time of this call (question only, plus the rebuild on a miss), ms. */
  prefillMs: number;
}

export interface ContextGenerateResult extends GenerateResult {
  context: ContextUse;
}

interface Entry {
  id: string;
  key: string;
  tokenIds: number[];
  press?: Press;
  pressConfig: Record<string, unknown> | null;
  name: string | null;
  createdAt: number;
  expiresAt: number | null;
  tokensAfter: number;
  lengths: number[] | null;
  compressed: boolean;
  bytes: number;
  bytesBefore: number | null;
  prefillMs: number;
  session?: Session;
  lastUsed: number;
  /** Requests using or waiting for the entry: it is not evicted meanwhile. */
  users: number;
  turn: Promise<unknown>;
  persisted: boolean;
  meta: Record<string, unknown> | null;
}

const DEFAULT_TTL_SECONDS = 3600;
const SWEEP_MS = 5_000;

export class ContextStore {
  private readonly entries = new Map<string, Entry>();
  private readonly building = new Map<string, Promise<Entry>>();
  private readonly maxBytes: number;
  private readonly defaultTtlSeconds: number;
  private readonly now: () => number;
  private readonly onPrefillProgress?: (contextId: string, progress: PrefillProgress) => void;
  private readonly sweeper: NodeJS.Timeout;
  private disposed = false;
  readonly cacheDir?: string;
  /**
   * Settles once the cacheDir is rid of the temp files a crashed write left behind (removeStaleContextTempFiles);
   * a directory that cannot be read is reported as a warning, since the store still works without the clean-up.
   */
  readonly ready: Promise<void>;

  constructor(
    readonly model: Model,
    options: ContextStoreOptions = {},
  ) {
    if (options.maxBytes !== undefined && !(Number.isFinite(options.maxBytes) && options.maxBytes > 0)) {
      throw new InvalidArgumentError(`maxBytes must be a positive number of bytes, got ${options.maxBytes}`);
    }
    checkTtl(options.defaultTtlSeconds, 'defaultTtlSeconds');
    this.maxBytes = options.maxBytes ?? Infinity;
    this.defaultTtlSeconds = options.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS;
    this.now = options.now ?? Date.now;
    this.onPrefillProgress = options.onPrefillProgress;
    this.cacheDir = options.cacheDir;
    this.ready = this.cacheDir
      ? removeStaleContextTempFiles(this.cacheDir).then(
          () => undefined,
          (err: unknown) => console.warn(`presskv: could not remove stale temp files in ${this.cacheDir}: ${(err as Error).message}`),
        )
      : Promise.resolve();
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** The identity every context of this store is made for (a press adds its config). */
  identity(press?: Press): ContextIdentity {
    return { modelFingerprint: modelFingerprint(this.model), tokenizerHash: tokenizerHash(this.model), press: pressConfigOf(press) };
  }

  /** The id a context would have: equal (model, tokenizer, press, tokens) → equal id. */
  idOf(tokenIds: readonly number[], press?: PressSpec): string {
    const p = press === undefined ? undefined : createPress(press);
    return contextIdOf(contextKey(this.identity(p), tokenIds));
  }

  /** Prefills (and compresses) a context and stores it; an equal stored context is returned instead. */
  async create(input: CreateContextInput): Promise<CreateContextResult> {
    this.assertLive();
    const tokenIds = checkTokens(input.tokenIds, this.model);
    checkTtl(input.ttlSeconds, 'ttlSeconds');
    if (input.name !== undefined && (typeof input.name !== 'string' || input.name.length > 256)) {
      throw new InvalidArgumentError('name must be a string of at most 256 characters');
    }
    // Every press problem (unknown name, bad option, window longer than the context, missing artefact) fails here.
    const press = input.press === undefined ? undefined : (await preparePress(input.press, { model: this.model.info.config, contextTokens: tokenIds.length, text: this.model.pressText })).press;
    const identity = this.identity(press);
    const key = contextKey(identity, tokenIds);
    const id = contextIdOf(key);
    await this.sweep();

    // A damaged or foreign file under this id is never used; storing the context again replaces it.
    const known = this.entries.get(id) ?? (await this.loadFromDisk(id, identity).catch(() => undefined));
    if (known) {
      if (input.ttlSeconds !== undefined) await this.extend(id, input.ttlSeconds);
      return { ...this.infoOf(known), existed: true };
    }
    let pending = this.building.get(id);
    if (!pending) {
      pending = this.build({
        id,
        key,
        tokenIds,
        press,
        identity,
        name: input.name ?? null,
        meta: input.meta ?? null,
        ttlSeconds: input.ttlSeconds,
        signal: input.signal,
      });
      this.building.set(id, pending);
      pending.then(
        () => this.building.delete(id),
        () => this.building.delete(id),
      );
      const entry = await pending;
      return { ...this.infoOf(entry), existed: false };
    }
    return { ...this.infoOf(await pending), existed: true };
  }

  /** The context's description; loads a persisted one (validating its file) on first use after a restart. */
  async get(id: string): Promise<ContextInfo> {
    return this.infoOf(await this.entry(id));
  }

  /** Every stored context: resident ones and, with a cacheDir, the valid files in it. */
  async list(): Promise<ContextInfo[]> {
    this.assertLive();
    await this.ready;
    await this.sweep();
    if (this.cacheDir && existsSync(this.cacheDir)) {
      for (const file of await readdir(this.cacheDir)) {
        const id = file.endsWith(CONTEXT_FILE_EXTENSION) ? file.slice(0, -CONTEXT_FILE_EXTENSION.length) : '';
        if (!isContextId(id) || this.entries.has(id)) continue;
        // Files that are damaged or made for another model are left out of the listing (get() names the problem).
        await this.loadFromDisk(id).catch(() => undefined);
      }
    }
    return [...this.entries.values()].sort((a, b) => a.createdAt - b.createdAt).map((e) => this.infoOf(e));
  }

  /** Deletes a context (memory and file). Returns false when there was none. */
  async delete(id: string): Promise<boolean> {
    this.assertLive();
    const entry = this.entries.get(id);
    const file = this.cacheDir && isContextId(id) ? contextFilePath(this.cacheDir, id) : undefined;
    const onDisk = file !== undefined && existsSync(file);
    if (!entry && !onDisk) return false;
    if (entry) await this.drop(entry);
    if (file) await rm(file, { force: true });
    return true;
  }

  /** Sets the context to expire ttlSeconds from now (0 = never). */
  async extend(id: string, ttlSeconds: number): Promise<ContextInfo> {
    checkTtl(ttlSeconds, 'ttlSeconds');
    const entry = await this.entry(id);
    entry.expiresAt = this.expiryOf(ttlSeconds);
    if (entry.persisted) await this.persist(entry);
    return this.infoOf(entry);
  }

  /**
   * The stored context whose tokens start promptTokenIds (automatic prefix caching of a prompt's context
   * part): the longest one, and among equally long ones (the same tokens stored uncompressed and with
   * presses) the most recently used. Contexts stored with any press or none match, unless `press` asks for
   * contexts compressed by exactly that press.
   */
  findPrefix(promptTokenIds: readonly number[], press?: PressSpec): ContextInfo | undefined {
    const wanted = press === undefined ? undefined : JSON.stringify(pressConfigOf(createPress(press)));
    let best: Entry | undefined;
    for (const entry of this.entries.values()) {
      if (this.isExpired(entry) || (wanted !== undefined && JSON.stringify(entry.pressConfig) !== wanted)) continue;
      const n = entry.tokenIds.length;
      if (n > promptTokenIds.length) continue;
      if (best && (best.tokenIds.length > n || (best.tokenIds.length === n && best.lastUsed >= entry.lastUsed))) continue;
      if (entry.tokenIds.every((t, i) => promptTokenIds[i] === t)) best = entry;
    }
    return best ? this.infoOf(best) : undefined;
  }

  /**
   * Generates after the stored context: the model sees the context's tokens followed by questionTokenIds.
   * The context itself is never changed by a call.
   */
  async generate(id: string, questionTokenIds: readonly number[], options: GenerateOptions): Promise<ContextGenerateResult> {
    const entry = await this.entry(id);
    const question = [...questionTokenIds];
    const n = entry.tokenIds.length;
    if (n + question.length > this.model.contextLength) {
      throw new ContextOverflowError(
        `The context (${n} tokens) and the question (${question.length} tokens) make ${n + question.length} tokens, more than the context window of ${this.model.contextLength} tokens.`,
      );
    }
    entry.users++;
    try {
      if (options.signal?.aborted) throw new AbortedError('The call was aborted before it started');
      const started = performance.now();
      const cacheHit = entry.session !== undefined;
      // Concurrent misses rebuild the context once: the rebuild takes the entry's turn.
      const session = entry.session ?? (await this.inTurn(entry, async () => entry.session ?? this.rebuild(entry, options.signal)));
      const rebuildMs = cacheHit ? 0 : performance.now() - started;
      entry.lastUsed = this.now();
      // A copy-on-write fork: the stored context's pages are shared, the question and answer go to private pages.
      const request = await session.fork();
      let result: GenerateResult;
      try {
        result = await request.generate(question, options);
      } finally {
        await request.dispose();
      }
      return {
        ...result,
        promptTokenIds: [...entry.tokenIds, ...question],
        usage: { inputTokens: n + question.length, outputTokens: result.usage.outputTokens, totalTokens: n + question.length + result.usage.outputTokens },
        timings: { ...result.timings, prefillMs: result.timings.prefillMs + rebuildMs },
        context: {
          contextId: entry.id,
          cachedTokens: n,
          tokensBefore: n,
          tokensAfter: entry.tokensAfter,
          bytes: entry.bytes,
          bytesBefore: entry.bytesBefore,
          compressed: entry.compressed,
          cacheHit,
          press: entry.pressConfig,
          prefillMs: result.timings.prefillMs + rebuildMs,
        },
      };
    } finally {
      entry.users--;
      await this.evictToBudget();
    }
  }

  /** Resident contexts and the KV bytes they hold. */
  stats(): { contexts: number; resident: number; bytes: number; maxBytes: number } {
    let bytes = 0;
    let resident = 0;
    for (const e of this.entries.values()) {
      if (e.session) {
        resident++;
        bytes += e.bytes;
      }
    }
    return { contexts: this.entries.size, resident, bytes, maxBytes: this.maxBytes };
  }

  /** Frees every resident context (files stay). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.sweeper);
    await this.ready;
    await Promise.allSettled([...this.building.values()]);
    await Promise.all([...this.entries.values()].map((e) => e.session?.dispose()));
    this.entries.clear();
  }

  // ---- internals ----------------------------------------------------------------------------------

  private async build(spec: {
    id: string;
    key: string;
    tokenIds: number[];
    press?: Press;
    identity: ContextIdentity;
    name: string | null;
    meta: Record<string, unknown> | null;
    ttlSeconds?: number;
    signal?: AbortSignal;
  }): Promise<Entry> {
    const entry: Entry = {
      id: spec.id,
      key: spec.key,
      tokenIds: spec.tokenIds,
      press: spec.press,
      pressConfig: spec.identity.press,
      name: spec.name,
      createdAt: this.now(),
      expiresAt: this.expiryOf(spec.ttlSeconds ?? this.defaultTtlSeconds),
      tokensAfter: spec.tokenIds.length,
      lengths: null,
      compressed: false,
      bytes: 0,
      bytesBefore: null,
      prefillMs: 0,
      lastUsed: this.now(),
      users: 1,
      turn: Promise.resolve(),
      persisted: false,
      meta: spec.meta,
    };
    try {
      await this.rebuild(entry, spec.signal);
      this.assertLive();
      this.entries.set(entry.id, entry);
      if (this.cacheDir) await this.persist(entry);
    } catch (err) {
      await entry.session?.dispose();
      entry.session = undefined;
      throw err;
    } finally {
      entry.users--;
    }
    await this.evictToBudget(entry);
    return entry;
  }

  /** Brings the context's KV cache into memory: from its saved KV when persisted, else by prefilling its tokens. */
  private async rebuild(entry: Entry, signal?: AbortSignal): Promise<Session> {
    if (signal?.aborted) throw new AbortedError('The context prefill was aborted');
    const started = performance.now();
    const saved = entry.persisted && !entry.press?.actsDuringDecoding ? await this.savedKv(entry) : undefined;
    const session = saved ? await this.model.createSession({ kv: saved }) : this.model.createSession();
    const abort = () => session.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      if (!saved) {
        // Layer-major prefill; with a press each layer's cache is compressed before the next layer runs.
        const report = this.onPrefillProgress;
        const onProgress = report ? (p: PrefillProgress) => report(entry.id, p) : undefined;
        const done = await session.prefillContext(entry.tokenIds, { press: entry.press, signal, onProgress });
        entry.lengths = done.lengths;
        entry.bytesBefore = done.bytesBefore;
        // Tokens kept per (layer, kv-head) on average: comparable with tokensBefore whatever the model's shape.
        entry.tokensAfter = done.lengths.length ? Math.round(done.lengths.reduce((a, b) => a + b, 0) / done.lengths.length) : entry.tokenIds.length;
        entry.compressed = entry.press !== undefined && entry.tokensAfter < entry.tokenIds.length;
      }
      if (signal?.aborted) throw new AbortedError('The context prefill was aborted');
      if (!saved) entry.prefillMs = performance.now() - started;
      entry.bytes = session.kvStats().bytes;
    } catch (err) {
      await session.dispose();
      throw err;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    if (this.bytesExcept(entry) + entry.bytes > this.maxBytes) await this.evictToBudget(entry, entry.bytes);
    if (entry.bytes > this.maxBytes) {
      await session.dispose();
      throw new KvOutOfMemoryError(`The context needs ${entry.bytes} bytes of KV cache, more than the store's budget of ${this.maxBytes} bytes`);
    }
    entry.session = session;
    return session;
  }

  private async entry(id: string): Promise<Entry> {
    this.assertLive();
    if (!isContextId(id)) throw new ContextNotFoundError(`"${String(id)}" is not a context id (they look like ctx_ followed by 32 hex digits)`);
    await this.sweep();
    const entry = this.entries.get(id) ?? (await this.loadFromDisk(id));
    if (!entry) throw new ContextNotFoundError(`No stored context has the id ${id} (it may have expired, been deleted or evicted)`);
    return entry;
  }

  /** Reads and checks a persisted context (its KV cache is rebuilt on first use). Damaged or foreign files throw. */
  private async loadFromDisk(id: string, expected?: ContextIdentity): Promise<Entry | undefined> {
    if (!this.cacheDir || !isContextId(id)) return undefined;
    const path = contextFilePath(this.cacheDir, id);
    if (!existsSync(path)) return undefined;
    const file = await readContextFile(path);
    const h = file.header;
    if (h.id !== id) throw new ContextFileIdError(`${path} holds context ${h.id}, not ${id}; it was not used`);
    const press = h.press ? createPress(h.press as PressSpec) : undefined;
    const identity = expected ?? this.identity(press);
    checkContextIdentity(h, identity, path);
    if (contextKey(identity, file.tokenIds) !== h.key) throw new ContextFileIdError(`${path} is inconsistent: its key does not match its tokens and identity; it was not used`);
    if (h.expiresAt !== null && h.expiresAt <= this.now()) {
      await rm(path, { force: true });
      return undefined;
    }
    const existing = this.entries.get(id);
    if (existing) return existing;
    const entry: Entry = {
      id,
      key: h.key,
      tokenIds: file.tokenIds,
      press,
      pressConfig: h.press,
      name: h.name,
      createdAt: h.createdAt,
      expiresAt: h.expiresAt,
      tokensAfter: h.tokensAfter,
      lengths: h.lengths,
      compressed: h.press !== null && h.tokensAfter < h.tokensBefore,
      bytes: 0,
      bytesBefore: h.bytesBefore ?? null,
      prefillMs: 0,
      lastUsed: this.now(),
      users: 0,
      turn: Promise.resolve(),
      persisted: true,
      meta: h.meta ?? null,
    };
    this.entries.set(id, entry);
    return entry;
  }

  /** The KV payload of the context's file, when it has one (a file that became unusable throws: never used). */
  private async savedKv(entry: Entry): Promise<Uint8Array | undefined> {
    if (!this.cacheDir) return undefined;
    const path = contextFilePath(this.cacheDir, entry.id);
    if (!existsSync(path)) return undefined;
    const file = await readContextFile(path);
    if (file.header.key !== entry.key) throw new ContextFileIdError(`${path} no longer holds context ${entry.id}; it was not used`);
    return file.header.payloadKind === 'kv' && file.kv && file.kv.length > 0 ? file.kv : undefined;
  }

  /** Writes the context's file: header, token ids and the saved KV cache (payload kind 'kv'). */
  private async persist(entry: Entry): Promise<void> {
    if (!this.cacheDir) return;
    await mkdir(this.cacheDir, { recursive: true });
    const path = contextFilePath(this.cacheDir, entry.id);
    // The parent session never changes after its prefill, so its saved state is the context's state — but not
    // a decoding press's state, so such contexts are kept as tokens and prefilled again (rebuild).
    const kv = entry.press?.actsDuringDecoding
      ? undefined
      : entry.session
        ? await entry.session.saveKv()
        : entry.persisted
          ? await this.savedKv(entry)
          : undefined;
    const identity: ContextIdentity = { ...this.identity(), press: entry.pressConfig };
    const header: ContextFileHeader = {
      formatVersion: CONTEXT_FILE_VERSION,
      ...identity,
      id: entry.id,
      key: entry.key,
      name: entry.name,
      createdAt: entry.createdAt,
      expiresAt: entry.expiresAt,
      tokensBefore: entry.tokenIds.length,
      tokensAfter: entry.tokensAfter,
      lengths: entry.lengths,
      bytesBefore: entry.bytesBefore,
      payloadKind: kv ? 'kv' : 'tokens',
      tokenCount: entry.tokenIds.length,
      meta: entry.meta,
    };
    await writeFileAtomic(path, encodeContextFile({ header, tokenIds: entry.tokenIds, kv }));
    entry.persisted = true;
  }

  private inTurn<T>(entry: Entry, work: () => Promise<T>): Promise<T> {
    const run = entry.turn.then(work, work);
    entry.turn = run.catch(() => undefined);
    return run;
  }

  private bytesExcept(except?: Entry): number {
    let bytes = 0;
    for (const e of this.entries.values()) if (e !== except && e.session) bytes += e.bytes;
    return bytes;
  }

  /** Evicts least recently used idle contexts until the resident ones (plus `extra` bytes) fit the budget. */
  private async evictToBudget(keep?: Entry, extra = 0): Promise<void> {
    if (this.maxBytes === Infinity) return;
    const idle = [...this.entries.values()].filter((e) => e !== keep && e.session && e.users === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const victim of idle) {
      if (this.bytesExcept(keep) + (keep?.session ? keep.bytes : 0) + extra <= this.maxBytes) break;
      // With a cacheDir the context survives on disk and is rebuilt on next use; without one it is gone.
      if (this.cacheDir && victim.persisted) {
        const session = victim.session;
        victim.session = undefined;
        await session?.dispose();
      } else await this.drop(victim);
    }
  }

  private async drop(entry: Entry): Promise<void> {
    this.entries.delete(entry.id);
    const session = entry.session;
    entry.session = undefined;
    // A request in progress keeps its session until its turn ends.
    await entry.turn;
    await session?.dispose();
  }

  private isExpired(entry: Entry): boolean {
    return entry.expiresAt !== null && entry.expiresAt <= this.now();
  }

  private async sweep(): Promise<void> {
    for (const entry of [...this.entries.values()]) {
      if (!this.isExpired(entry) || entry.users > 0) continue;
      await this.drop(entry);
      if (this.cacheDir) await rm(contextFilePath(this.cacheDir, entry.id), { force: true });
    }
  }

  private expiryOf(ttlSeconds: number): number | null {
    return ttlSeconds === 0 ? null : this.now() + ttlSeconds * 1000;
  }

  private infoOf(e: Entry): ContextInfo {
    return {
      id: e.id,
      name: e.name,
      tokensBefore: e.tokenIds.length,
      tokensAfter: e.tokensAfter,
      bytes: e.bytes,
      bytesBefore: e.bytesBefore,
      compressed: e.compressed,
      press: e.pressConfig,
      createdAt: e.createdAt,
      expiresAt: e.expiresAt,
      prefillMs: e.prefillMs,
      resident: e.session !== undefined,
      persisted: e.persisted,
      meta: e.meta,
    };
  }

  private assertLive(): void {
    if (this.disposed) throw new InvalidArgumentError('This context store has been disposed');
  }
}

/** A context file whose id or key does not match where it was found. */
export class ContextFileIdError extends PressKVError {
  constructor(message: string) {
    super('ERR_CORRUPT_FILE', message);
  }
}

function checkTokens(tokenIds: readonly number[], model: Model): number[] {
  if (!Array.isArray(tokenIds) || tokenIds.length === 0) throw new InvalidArgumentError('A context needs at least one token id');
  const vocab = model.info.config.vocab;
  for (const id of tokenIds) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new InvalidArgumentError(`The context holds ${id}, which is not a token id of this model (0..${vocab - 1})`);
  }
  // One slot stays free for the pending token's re-evaluation plus at least one question or generated token.
  if (tokenIds.length + 1 > model.contextLength) {
    throw new ContextOverflowError(`The context has ${tokenIds.length} tokens; the model's context window of ${model.contextLength} tokens leaves no room to ask anything`);
  }
  return [...tokenIds];
}

function checkTtl(ttl: number | undefined, name: string): void {
  if (ttl !== undefined && !(Number.isFinite(ttl) && ttl >= 0)) throw new InvalidArgumentError(`${name} must be a number of seconds >= 0 (0 = never expires), got ${ttl}`);
}
