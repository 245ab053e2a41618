// Starts the presskv HTTP server: loads the model once, opens the context store (persisted when a cache
// directory is given) and listens. Used by `presskv serve` and by tests (port 0 = an ephemeral port).
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { ContextStore } from '../engine/context-store.js';
import { Model } from '../engine/model.js';
import type { LoadOptions, PrefillProgress } from '../engine/types.js';
import { createPressKVApp } from './app.js';
import { closeHttpServer } from './shutdown.js';

export interface ServeOptions {
  /** A .gguf file, an HF model directory or an org/name hub id. */
  model: string;
  /** The id clients send as `model` (default: derived from the path). */
  modelName?: string;
  port?: number;
  /** Default 127.0.0.1: reachable from this machine only. */
  host?: string;
  apiKey?: string;
  /** Persist stored contexts here. */
  cacheDir?: string;
  /** KV bytes the stored contexts may hold together (LRU eviction beyond). */
  maxContextBytes?: number;
  maxBodyBytes?: number;
  load?: LoadOptions;
  /** Progress of a stored context's prefill (ContextStoreOptions.onPrefillProgress); `presskv serve` logs it. */
  onContextProgress?: (contextId: string, progress: PrefillProgress) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  model: Model;
  store: ContextStore;
  /**
   * Stops listening, ends open streams with a server_shutting_down error event (running non-streaming requests
   * get a 503), then frees the stored contexts (their files stay) and the model.
   */
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const model = await Model.load(options.model, options.load);
  const store = new ContextStore(model, {
    cacheDir: options.cacheDir,
    maxBytes: options.maxContextBytes,
    onPrefillProgress: options.onContextProgress,
  });
  // A crash's leftover temp files are gone before the first request looks at the cache directory.
  await store.ready;
  const shutdown = new AbortController();
  const app = createPressKVApp({
    model,
    store,
    modelName: options.modelName,
    apiKey: options.apiKey,
    maxBodyBytes: options.maxBodyBytes,
    shutdownSignal: shutdown.signal,
  });
  let server: ServerType;
  let port: number;
  try {
    ({ server, port } = await new Promise<{ server: ServerType; port: number }>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: options.port ?? 8080, hostname: host }, (info: AddressInfo) => resolve({ server: s, port: info.port }));
      s.once('error', reject);
    }));
  } catch (err) {
    await store.dispose();
    model.dispose();
    throw err;
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    host,
    model,
    store,
    close: () =>
      (closing ??= (async () => {
        // Streams end with an error event first, so clients learn the answer was cut short.
        shutdown.abort();
        await closeHttpServer(server);
        await store.dispose();
        model.dispose();
      })()),
  };
}
