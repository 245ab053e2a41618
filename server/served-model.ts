// The one model a server serves (fixed at startup: requests name it, never choose it) and its context store.
import { ContextStore, type ContextStoreOptions } from '../engine/context-store.js';
import type { Model } from '../engine/model.js';
import { HttpError } from './openai-errors.js';

export interface ServedModel {
  /** The id clients send as `model` and see in /v1/models. */
  readonly id: string;
  readonly created: number;
  model(): Promise<Model>;
  store(): Promise<ContextStore>;
}

export function servedModel(options: {
  id: string;
  load: () => Promise<Model>;
  store?: ContextStore;
  storeOptions?: ContextStoreOptions;
}): ServedModel {
  let model: Promise<Model> | undefined;
  let store: Promise<ContextStore> | undefined;
  const getModel = () => {
    if (!model) {
      model = options.load();
      // A failed load is retried on the next request (and reported to each caller meanwhile).
      model.catch(() => (model = undefined));
    }
    return model;
  };
  return {
    id: options.id,
    created: Math.floor(Date.now() / 1000),
    model: getModel,
    store: () => (store ??= options.store ? Promise.resolve(options.store) : getModel().then((m) => new ContextStore(m, options.storeOptions))),
  };
}

/** The request's `model` must name the served model; it never selects a file. */
export function checkModelName(requested: string, served: ServedModel): void {
  if (requested !== served.id) {
    throw new HttpError(404, `The model "${requested}" does not exist on this server; it serves "${served.id}"`, 'invalid_request_error', 'model_not_found', 'model');
  }
}
