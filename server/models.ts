// GET /v1/models and /v1/models/{id}: the one model this server was started with.
import { Hono } from 'hono';
import { HttpError } from './openai-errors.js';
import type { ServedModel } from './served-model.js';

export function modelsRoutes(served: ServedModel): Hono {
  const routes = new Hono();
  const modelObject = () => ({ id: served.id, object: 'model', created: served.created, owned_by: 'presskv' });
  routes.get('/models', (c) => c.json({ object: 'list', data: [modelObject()] }));
  routes.get('/models/:id{.+}', (c) => {
    const id = c.req.param('id');
    if (id !== served.id) throw new HttpError(404, `The model "${id}" does not exist on this server; it serves "${served.id}"`, 'invalid_request_error', 'model_not_found');
    return c.json(modelObject());
  });
  return routes;
}
