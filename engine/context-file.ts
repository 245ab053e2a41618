// The persisted form of a stored context (one file per context in the store's cacheDir):
//
//   "PRESSKVC" | u32 LE format version | u32 LE header length | header JSON (UTF-8) | payload | sha256(all before)
//
// The header names what the payload is only valid for (model fingerprint, tokenizer hash, press config) so a
// file from another model, tokenizer or press is refused instead of silently giving wrong answers; the
// trailing sha256 catches any damaged byte. Writes are atomic: temp file, fsync, rename, fsync of the dir.
import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PressKVError, type PressKVErrorCode } from './errors.js';
import type { ContextIdentity } from './context-key.js';

export const CONTEXT_FILE_MAGIC = 'PRESSKVC';
export const CONTEXT_FILE_VERSION = 1;
export const CONTEXT_FILE_EXTENSION = '.pkvctx';
const CHECKSUM_BYTES = 32;

/** A context file that is damaged or not a context file at all. */
export class CorruptContextFileError extends PressKVError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CORRUPT_FILE', message, options);
  }
}

/** A sound context file made for another model, tokenizer or press, or by another format version. */
export class ContextFileMismatchError extends PressKVError {
  constructor(message: string, code: PressKVErrorCode = 'ERR_INVALID_ARGUMENT') {
    super(code, message);
  }
}

/**
 * 'tokens': the payload is the context's token ids (Int32 LE); the KV cache is rebuilt by prefill on load.
 * 'kv': the payload is the engine's serialised KV cache (loaded back bit-identical).
 */
export type ContextPayloadKind = 'tokens' | 'kv';

export interface ContextFileHeader extends ContextIdentity {
  formatVersion: number;
  id: string;
  key: string;
  name: string | null;
  createdAt: number;
  /** ms since the epoch; null = no expiry. */
  expiresAt: number | null;
  tokensBefore: number;
  tokensAfter: number;
  /** Kept slots per (layer, kv-head), layer-major; null when the engine does not report them. */
  lengths: number[] | null;
  /** KV bytes the context would hold uncompressed. */
  bytesBefore?: number | null;
  payloadKind: ContextPayloadKind;
  /** Token ids of the context (always stored: they are the key and the rebuild recipe). */
  tokenCount: number;
  /** The store's caller data (e.g. the server's context messages). */
  meta?: Record<string, unknown> | null;
}

export interface ContextFile {
  header: ContextFileHeader;
  tokenIds: number[];
  /** The serialised KV cache when payloadKind is 'kv'. */
  kv?: Uint8Array;
}

export function contextFilePath(dir: string, id: string): string {
  return join(dir, `${id}${CONTEXT_FILE_EXTENSION}`);
}

export function encodeContextFile(file: ContextFile): Buffer {
  const tokens = Buffer.from(Int32Array.from(file.tokenIds).buffer);
  const payload = file.header.payloadKind === 'kv' && file.kv ? Buffer.concat([tokens, Buffer.from(file.kv)]) : tokens;
  const header = Buffer.from(JSON.stringify({ ...file.header, tokenCount: file.tokenIds.length }), 'utf8');
  const prefix = Buffer.alloc(16);
  prefix.write(CONTEXT_FILE_MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(CONTEXT_FILE_VERSION, 8);
  prefix.writeUInt32LE(header.length, 12);
  const body = Buffer.concat([prefix, header, payload]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

export function decodeContextFile(bytes: Uint8Array, where: string): ContextFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 16 + CHECKSUM_BYTES || buf.toString('latin1', 0, 8) !== CONTEXT_FILE_MAGIC) {
    throw new CorruptContextFileError(`${where} is not a presskv context file (bad magic or too short)`);
  }
  const body = buf.subarray(0, buf.length - CHECKSUM_BYTES);
  const stored = buf.subarray(buf.length - CHECKSUM_BYTES);
  if (!createHash('sha256').update(body).digest().equals(stored)) {
    throw new CorruptContextFileError(`${where} is damaged: its checksum does not match its contents, so it was not used`);
  }
  const version = buf.readUInt32LE(8);
  if (version !== CONTEXT_FILE_VERSION) {
    throw new ContextFileMismatchError(`${where} has context file format version ${version}; this presskv reads version ${CONTEXT_FILE_VERSION}`);
  }
  const headerLength = buf.readUInt32LE(12);
  if (16 + headerLength > body.length) throw new CorruptContextFileError(`${where} is damaged: its header runs past the end of the file`);
  let header: ContextFileHeader;
  try {
    header = JSON.parse(body.toString('utf8', 16, 16 + headerLength)) as ContextFileHeader;
  } catch (err) {
    throw new CorruptContextFileError(`${where} is damaged: its header is not valid JSON`, { cause: err });
  }
  const payload = body.subarray(16 + headerLength);
  const tokenBytes = header.tokenCount * 4;
  if (!Number.isInteger(header.tokenCount) || header.tokenCount < 0 || tokenBytes > payload.length) {
    throw new CorruptContextFileError(`${where} is damaged: it holds fewer token ids than its header says`);
  }
  const aligned = new Int32Array(header.tokenCount);
  Buffer.from(aligned.buffer).set(payload.subarray(0, tokenBytes));
  const kv = header.payloadKind === 'kv' ? new Uint8Array(payload.subarray(tokenBytes)) : undefined;
  return { header, tokenIds: Array.from(aligned), kv };
}

/** Refuses a file whose identity is not the expected one, naming what differs. */
export function checkContextIdentity(header: ContextFileHeader, expected: ContextIdentity, where: string): void {
  if (header.modelFingerprint !== expected.modelFingerprint) {
    throw new ContextFileMismatchError(
      `${where} was made for another model (fingerprint ${header.modelFingerprint}, this model is ${expected.modelFingerprint}); it was not used`,
    );
  }
  if (header.tokenizerHash !== expected.tokenizerHash) {
    throw new ContextFileMismatchError(`${where} was made with another tokenizer (hash ${header.tokenizerHash}, this one is ${expected.tokenizerHash}); it was not used`);
  }
  if (JSON.stringify(header.press) !== JSON.stringify(expected.press)) {
    throw new ContextFileMismatchError(
      `${where} was compressed with press ${JSON.stringify(header.press)}, not the requested ${JSON.stringify(expected.press)}; it was not used`,
    );
  }
}

// Temp files are `.<file name>.<writer pid>.<12 hex>.tmp` beside their target. A crash between open and rename
// leaves one behind; the store removes those when it opens its cacheDir (removeStaleContextTempFiles).
const CONTEXT_TEMP_FILE = new RegExp(`^\\.ctx_[0-9a-f]{32}${CONTEXT_FILE_EXTENSION.replace('.', '\\.')}\\.(\\d+)\\.[0-9a-f]{12}\\.tmp$`);

/** Temp files this process is writing now: never stale, whatever another store in the process decides. */
const tempFilesInFlight = new Set<string>();

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Whether the process with this pid is gone (EPERM: it exists under another user, so it may still be writing). */
function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes the context temp files a crashed writer left in `dir`: only names in the store's own temp form, and
 * only when their writer is gone (or is this process, which is not writing them), so another server sharing
 * the directory keeps the files it is writing. Returns the names removed.
 */
export async function removeStaleContextTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = CONTEXT_TEMP_FILE.exec(name);
    if (!match) continue;
    const path = join(dir, name);
    const pid = Number(match[1]);
    const stale = pid === process.pid ? !tempFilesInFlight.has(path) : processIsGone(pid);
    if (!stale) continue;
    await rm(path, { force: true });
    removed.push(name);
  }
  return removed;
}

/** Writes `bytes` to `path` so that a reader sees either the old file or the whole new one, never a part. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = tempPathFor(path);
  tempFilesInFlight.add(temp);
  try {
    await writeThroughTemp(temp, path, bytes);
  } finally {
    tempFilesInFlight.delete(temp);
  }
}

async function writeThroughTemp(temp: string, path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  // The rename is durable only once the directory entry is on disk.
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Some filesystems cannot fsync a directory; the file itself is already synced.
  }
}

export async function readContextFile(path: string): Promise<ContextFile> {
  return decodeContextFile(await readFile(path), path);
}
