// Model ids → local paths. A path that exists is used as is; `org/name` or `org/name@revision` is a
// Hugging Face hub repository, kept under <cacheDir>/org--name/<revision> and downloaded there file by
// file (temp file + rename, so an interrupted download never looks complete) when it is not present.
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, ModelNotFoundError } from './errors.js';
import { assertFileOrDirectory } from './model-path-kind.js';

export const HUB_URL = 'https://huggingface.co';
const REQUIRED_FILES = ['config.json', 'tokenizer.json'];
const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json'];
const SINGLE_WEIGHTS = 'model.safetensors';
const SHARD_INDEX = 'model.safetensors.index.json';
const HUB_ID = /^([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$/;

export interface ResolveModelOptions {
  /** Root of the hub cache (default: $PRESSKV_CACHE_DIR or ~/.cache/presskv/hub). */
  cacheDir?: string;
  /** Access token for gated/private repositories (default: $HF_TOKEN). */
  token?: string;
  /** Hub base URL (default https://huggingface.co, or $HF_ENDPOINT). */
  endpoint?: string;
  /** fetch implementation (tests inject one; default: the global fetch). */
  fetch?: typeof fetch;
  /** Progress of downloads, one call per file. */
  onDownload?: (file: string, bytes: number) => void;
  /** How long to wait for the hub to answer a request (not for the whole download); default 30 s. */
  responseTimeoutMs?: number;
}

export interface HubId {
  repo: string;
  revision: string;
}

/** `org/name[@revision]` → its parts, or null when the string is not a hub id. */
export function parseHubId(id: string): HubId | null {
  const m = HUB_ID.exec(id);
  if (!m || m[1] === '.' || m[1] === '..') return null;
  return { repo: `${m[1]}/${m[2]}`, revision: m[3] ?? 'main' };
}

export function defaultHubCacheDir(): string {
  return process.env.PRESSKV_CACHE_DIR || path.join(homedir(), '.cache', 'presskv', 'hub');
}

/** The directory a hub model lives in (whether or not it is there yet). */
export function hubModelDir(id: HubId, cacheDir = defaultHubCacheDir()): string {
  return path.join(cacheDir, id.repo.replace('/', '--'), id.revision.replace(/\//g, '--'));
}

/** A local path for `idOrPath`: the path itself when it exists, else the (downloaded) hub cache dir. */
export async function resolveModelPath(idOrPath: string, options: ResolveModelOptions = {}): Promise<string> {
  if (typeof idOrPath !== 'string' || idOrPath.trim() === '') {
    throw new InvalidArgumentError('A model path or hub id (org/name) is required');
  }
  if (existsSync(idOrPath)) {
    const local = path.resolve(idOrPath);
    assertFileOrDirectory(local, await stat(local));
    return local;
  }
  const hubId = parseHubId(idOrPath);
  if (!hubId || idOrPath.startsWith('.') || path.isAbsolute(idOrPath)) {
    throw new ModelNotFoundError(`No model at ${path.resolve(idOrPath)}: the path does not exist (and it is not a hub id like org/name)`);
  }
  const dir = hubModelDir(hubId, options.cacheDir ?? defaultHubCacheDir());
  if (await isCompleteModelDir(dir)) return dir;
  await downloadModel(hubId, dir, options);
  return dir;
}

/** config.json, tokenizer.json and all weights present. */
async function isCompleteModelDir(dir: string): Promise<boolean> {
  if (!REQUIRED_FILES.every((f) => existsSync(path.join(dir, f)))) return false;
  if (existsSync(path.join(dir, SINGLE_WEIGHTS))) return true;
  const indexPath = path.join(dir, SHARD_INDEX);
  if (!existsSync(indexPath)) return false;
  try {
    return shardsOf(JSON.parse(await readFile(indexPath, 'utf8'))).every((f) => existsSync(path.join(dir, f)));
  } catch {
    return false;
  }
}

function shardsOf(index: unknown): string[] {
  const map = (index as { weight_map?: Record<string, string> })?.weight_map;
  if (!map || typeof map !== 'object') throw new Error('missing weight_map');
  const shards = [...new Set(Object.values(map))];
  for (const s of shards) {
    if (typeof s !== 'string' || s.includes('/') || s.includes('\\') || s.startsWith('.')) throw new Error(`bad shard name ${s}`);
  }
  return shards;
}

function offlineMessage(id: HubId, dir: string, reason: string): string {
  return (
    `Could not get ${id.repo} (revision ${id.revision}) from the Hugging Face hub: ${reason}. ` +
    `To use it offline, put ${[...REQUIRED_FILES, ...OPTIONAL_FILES].join(', ')} and ${SINGLE_WEIGHTS} ` +
    `(or ${SHARD_INDEX} with every shard it lists) into ${dir} — or pass the path of a local model directory or .gguf file instead.`
  );
}

async function downloadModel(id: HubId, dir: string, options: ResolveModelOptions): Promise<void> {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const endpoint = (options.endpoint ?? process.env.HF_ENDPOINT ?? HUB_URL).replace(/\/+$/, '');
  const token = options.token ?? process.env.HF_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  await mkdir(dir, { recursive: true });

  /** Downloads one file unless present; false when the hub does not have it. */
  const get = async (file: string, required: boolean): Promise<boolean> => {
    const target = path.join(dir, file);
    if (existsSync(target)) return true;
    const url = `${endpoint}/${id.repo}/resolve/${encodeURIComponent(id.revision)}/${file}`;
    let response: Response;
    // A black-holed network never answers: give up on the answer (not on a long download) after a while.
    const controller = new AbortController();
    const timeoutMs = options.responseTimeoutMs ?? 30_000;
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      response = await fetchFn(url, { headers, redirect: 'follow', signal: controller.signal });
    } catch (err) {
      const reason = controller.signal.aborted ? (controller.signal.reason as Error).message : undefined;
      const cause = reason ?? (err as { cause?: { code?: string } })?.cause?.code ?? (err as Error)?.message ?? String(err);
      throw new ModelNotFoundError(offlineMessage(id, dir, `the hub is unreachable (${cause})`), { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 404) {
      await response.body?.cancel();
      if (required) throw new ModelNotFoundError(offlineMessage(id, dir, `${url} does not exist (404): check the repository name and revision`));
      return false;
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new ModelNotFoundError(
        offlineMessage(id, dir, `access denied (${response.status}) — the repository may be gated or private; set HF_TOKEN to a token that may read it`),
      );
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new ModelNotFoundError(offlineMessage(id, dir, `${url} answered HTTP ${response.status}`));
    }
    const temp = `${target}.${process.pid}.${Date.now()}.part`;
    try {
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), createWriteStream(temp));
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw new ModelNotFoundError(offlineMessage(id, dir, `the download of ${file} failed (${(err as Error).message})`), { cause: err });
    }
    options.onDownload?.(file, (await stat(target)).size);
    return true;
  };

  for (const file of REQUIRED_FILES) await get(file, true);
  for (const file of OPTIONAL_FILES) await get(file, false);
  if (await get(SINGLE_WEIGHTS, false)) return;
  if (!(await get(SHARD_INDEX, false))) {
    throw new ModelNotFoundError(offlineMessage(id, dir, `the repository has neither ${SINGLE_WEIGHTS} nor ${SHARD_INDEX}`));
  }
  let shards: string[];
  try {
    shards = shardsOf(JSON.parse(await readFile(path.join(dir, SHARD_INDEX), 'utf8')));
  } catch (err) {
    await rm(path.join(dir, SHARD_INDEX), { force: true });
    throw new ModelNotFoundError(offlineMessage(id, dir, `${SHARD_INDEX} is not a valid shard index (${(err as Error).message})`), { cause: err });
  }
  for (const shard of shards) await get(shard, true);
}
