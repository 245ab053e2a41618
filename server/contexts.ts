// /v1/contexts, in the spirit of Gemini's cachedContents: store a compressed context once, then name it in
// chat requests (`context_id`). POST creates (an equal context — same model, content and press — is
// returned as is), GET lists or describes, PATCH { ttl_seconds } extends, DELETE removes.
import { Hono } from 'hono';
import type { ContextInfo } from '../engine/context-store.js';
import { renderContext } from '../provider/index.js';
import { contextMessagesOf } from './openai-messages.js';
import { HttpError } from './openai-errors.js';
import { readJsonBody } from './read-body.js';
import { createContextRequestSchema, extendContextRequestSchema, type PressInput } from './schemas.js';
import type { ServedModel } from './served-model.js';

export function contextsRoutes(served: ServedModel): Hono {
  const routes = new Hono();

  routes.post('/contexts', async (c) => {
    const request = createContextRequestSchema.parse(await readJsonBody(c));
    const model = await served.model();
    const store = await served.store();
    const messages = contextMessagesOf(request.content);
    const rendered = renderContext(model, messages);
    const info = await store.create({
      tokenIds: rendered.tokenIds,
      press: request.press ? pressSpecOf(request.press) : undefined,
      ttlSeconds: request.ttl_seconds ?? undefined,
      name: request.name ?? undefined,
      meta: { messages, text: rendered.text },
      signal: c.req.raw.signal,
    });
    return c.json(contextObject(info), info.existed ? 200 : 201);
  });

  routes.get('/contexts', async (c) => {
    const store = await served.store();
    return c.json({ object: 'list', data: (await store.list()).map(contextObject) });
  });

  routes.get('/contexts/:id', async (c) => {
    const store = await served.store();
    return c.json(contextObject(await store.get(c.req.param('id'))));
  });

  routes.patch('/contexts/:id', async (c) => {
    const request = extendContextRequestSchema.parse(await readJsonBody(c));
    const store = await served.store();
    return c.json(contextObject(await store.extend(c.req.param('id'), request.ttl_seconds)));
  });

  routes.delete('/contexts/:id', async (c) => {
    const store = await served.store();
    const id = c.req.param('id');
    if (!(await store.delete(id))) throw new HttpError(404, `No stored context has the id ${id}`, 'invalid_request_error', 'not_found');
    return c.json({ id, object: 'context.deleted', deleted: true });
  });

  return routes;
}

export function contextObject(info: ContextInfo) {
  return {
    id: info.id,
    object: 'context',
    name: info.name,
    tokens_before: info.tokensBefore,
    tokens_after: info.tokensAfter,
    bytes: info.bytes,
    bytes_before: info.bytesBefore,
    compressed: info.compressed,
    press: info.press,
    created_at: Math.floor(info.createdAt / 1000),
    expires_at: info.expiresAt === null ? null : Math.floor(info.expiresAt / 1000),
    resident: info.resident,
    persisted: info.persisted,
    prefill_ms: info.prefillMs,
  };
}

/** JSON press options may be snake_case (compression_ratio) as in kvpress; presskv's press classes take camelCase. */
export function pressSpecOf(input: PressInput): Record<string, unknown> & { name: string } {
  const out: Record<string, unknown> & { name: string } = { name: input.name };
  for (const [key, value] of Object.entries(input)) {
    if (key === 'name') continue;
    if (key === 'press' && value) out.press = pressSpecOf(value as PressInput);
    else if (key === 'presses' && Array.isArray(value)) out.presses = value.map((p) => pressSpecOf(p as PressInput));
    else out[key.replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase())] = value;
  }
  return out;
}
