// The identity of a stored context: which model and tokenizer it belongs to, which press shaped it, and
// the key (a hash of all three plus the context token ids) under which it is stored and looked up.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError } from './errors.js';
import type { Model } from './model.js';
import type { Press } from './presses/base.js';

const fingerprints = new WeakMap<Model, string>();
const tokenizerHashes = new WeakMap<Model, string>();

const SAMPLE_BYTES = 64 * 1024;

/**
 * The model's fingerprint: the native one (a hash over the config and samples of every tensor) when the
 * engine exposes it, else a hash of the config, the tensor table and the head and tail of every weight file.
 */
export function modelFingerprint(model: Model): string {
  let fp = fingerprints.get(model);
  if (fp) return fp;
  const native = (model as unknown as { fingerprint?: () => string }).fingerprint;
  if (typeof native === 'function') fp = `native:${native.call(model)}`;
  else {
    const hash = createHash('sha256');
    const { spec } = model.files;
    hash.update(JSON.stringify(spec.config));
    for (const t of spec.tensors) hash.update(JSON.stringify([t.name, t.dtype, t.shape]));
    for (const file of spec.files) hash.update(sampleOfFile(file));
    fp = `spec:${hash.digest('hex').slice(0, 32)}`;
  }
  fingerprints.set(model, fp);
  return fp;
}

function sampleOfFile(path: string): Buffer {
  const size = statSync(path).size;
  const bytes = readFileSync(path);
  const head = bytes.subarray(0, Math.min(SAMPLE_BYTES, size));
  const tail = bytes.subarray(Math.max(0, size - SAMPLE_BYTES));
  return Buffer.concat([Buffer.from(String(size)), head, tail]);
}

/** A hash of what the tokenizer turns text into: every token's bytes, which ids are special, BOS handling. */
export function tokenizerHash(model: Model): string {
  let h = tokenizerHashes.get(model);
  if (h) return h;
  const { tokenizer } = model;
  const hash = createHash('sha256');
  hash.update(JSON.stringify([tokenizer.kind, tokenizer.vocabSize, tokenizer.addBos, tokenizer.bosTokenId ?? null, tokenizer.eosTokenIds]));
  const length = new Uint32Array(1);
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const bytes = tokenizer.tokenBytes(id);
    length[0] = bytes.length | (tokenizer.isSpecial(id) ? 0x80000000 : 0);
    hash.update(new Uint8Array(length.buffer));
    hash.update(bytes);
  }
  h = hash.digest('hex').slice(0, 32);
  tokenizerHashes.set(model, h);
  return h;
}

/** The press as canonical JSON (sorted keys), or null for an uncompressed context. */
export function pressConfigOf(press: Press | undefined): Record<string, unknown> | null {
  if (!press) return null;
  if (press.name === 'CustomScorerPress') {
    throw new InvalidArgumentError('CustomScorerPress contexts cannot be stored: the scorer is a function, so the context has no stable key');
  }
  return canonical(press.toJSON()) as Record<string, unknown>;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonical((value as { toJSON: () => unknown }).toJSON());
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

export interface ContextIdentity {
  modelFingerprint: string;
  tokenizerHash: string;
  press: Record<string, unknown> | null;
}

/** The store key: sha256 over the identity and the token ids. Equal contexts get equal keys. */
export function contextKey(identity: ContextIdentity, tokenIds: readonly number[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([identity.modelFingerprint, identity.tokenizerHash, identity.press]));
  hash.update(new Uint8Array(Int32Array.from(tokenIds).buffer));
  return hash.digest('hex');
}

/** The public id of a context: short, URL-safe, derived from its key. */
export function contextIdOf(key: string): string {
  return `ctx_${key.slice(0, 32)}`;
}

export function isContextId(id: unknown): id is string {
  return typeof id === 'string' && /^ctx_[0-9a-f]{32}$/.test(id);
}
