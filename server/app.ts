// The Hono app factory: OpenAI-compatible /v1/chat/completions and /v1/models, plus /v1/contexts, over one
// model fixed at startup. Mount it in your own Hono app (`app.route('/llm', createPressKVApp(...))`) or
// serve it with `presskv serve` (server/serve.ts).
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { basename } from 'node:path';
import type { ContextStore, ContextStoreOptions } from '../engine/context-store.js';
import { InvalidArgumentError } from '../engine/errors.js';
import type { Model } from '../engine/model.js';
import type { PressKVModelSettings, PressKVProvider } from '../provider/create-presskv.js';
import { bearerAuth } from './auth.js';
import { chatCompletionsRoutes } from './chat-completions.js';
import { contextsRoutes } from './contexts.js';
import { modelsRoutes } from './models.js';
import { errorResponse } from './openai-errors.js';
import { servedModel } from './served-model.js';

export interface PressKVAppOptions {
  /** The engine model to serve (or a promise of it). Give this or provider + modelId. */
  model?: Model | Promise<Model>;
  /** Serve provider.loadModel(modelId, modelSettings): the model is loaded on the first request. */
  provider?: PressKVProvider;
  modelId?: string;
  modelSettings?: PressKVModelSettings;
  /** The id clients send as `model` (default: the model file's or directory's name). */
  modelName?: string;
  /** Require `Authorization: Bearer <apiKey>` on every /v1 route. */
  apiKey?: string;
  /** Largest request body, in bytes (default 8 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** The context store to use (default: one created for the model with contextStore's options). */
  store?: ContextStore;
  contextStore?: ContextStoreOptions;
  /**
   * Abort it when the server shuts down: open SSE streams then end with an OpenAI-style error event and
   * running requests with a 503, instead of being cut without a word when the connections close.
   */
  shutdownSignal?: AbortSignal;
}

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

export function createPressKVApp(options: PressKVAppOptions): Hono {
  const { model, provider, modelId } = options;
  if (!model && !(provider && modelId)) throw new InvalidArgumentError('createPressKVApp needs a model, or a provider and a modelId');
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey.length === 0)) {
    throw new InvalidArgumentError('apiKey must be a non-empty string');
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) throw new InvalidArgumentError(`maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);

  const load = model ? () => Promise.resolve(model) : () => provider!.loadModel(modelId!, options.modelSettings);
  const name = options.modelName ?? (modelId ? nameOf(modelId) : model instanceof Promise ? 'presskv' : nameOf(model!.info.path));
  const served = servedModel({ id: name, load, store: options.store, storeOptions: options.contextStore });

  const v1 = new Hono();
  if (options.apiKey) v1.use('*', bearerAuth(options.apiKey));
  v1.use(
    '*',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) =>
        c.json(
          { error: { message: `The request body is larger than this server's limit of ${maxBodyBytes} bytes`, type: 'invalid_request_error', param: null, code: 'request_too_large' } },
          413,
        ),
    }),
  );
  v1.route('/', chatCompletionsRoutes(served, { shutdownSignal: options.shutdownSignal }));
  v1.route('/', modelsRoutes(served));
  v1.route('/', contextsRoutes(served));

  const app = new Hono();
  app.get('/health', (c) => c.json({ status: 'ok', model: served.id }));
  app.route('/v1', v1);
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) =>
    c.json({ error: { message: `No route ${c.req.method} ${c.req.path}`, type: 'invalid_request_error', param: null, code: 'not_found' } }, 404),
  );
  return app;
}

/** A model path's last part without extension (`/models/qwen3-0.6b.gguf` → `qwen3-0.6b`); hub ids stay as they are. */
function nameOf(pathOrId: string): string {
  if (/^[\w.-]+\/[\w.-]+(@[\w.-]+)?$/.test(pathOrId) && !pathOrId.startsWith('.')) return pathOrId;
  const base = basename(pathOrId.replace(/[\\/]+$/, ''));
  return base.replace(/\.gguf$/i, '') || 'presskv';
}
