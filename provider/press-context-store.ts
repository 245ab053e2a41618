// A ContextStore that can also key contexts compressed by presses with a TypeScript scorer
// (CustomScorerPress, alone or inside wrappers): the scorer function gets an identity for this process,
// so an equal context with the same function object is compressed once and reused, and a different
// function never matches it. Such contexts are never written to a cacheDir (a function has no stable
// identity across restarts).
import type { Model } from '../engine/model.js';
import { ContextStore, type ContextStoreOptions } from '../engine/context-store.js';
import type { ContextIdentity } from '../engine/context-key.js';
import { Press as PressBase, type Press } from '../engine/presses/base.js';

const scorerIds = new WeakMap<object, number>();
let nextScorerId = 1;

function scorerId(fn: object): number {
  let id = scorerIds.get(fn);
  if (id === undefined) scorerIds.set(fn, (id = nextScorerId++));
  return id;
}

/** The ids of every scorer function in the press and its inner presses, in a fixed walk order. */
function scorersOf(press: Press, out: number[] = []): number[] {
  for (const value of Object.values(press.options as Record<string, unknown>)) {
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (typeof item === 'function') out.push(scorerId(item));
      else if (item instanceof PressBase) scorersOf(item, out);
    }
  }
  return out;
}

export class PressContextStore extends ContextStore {
  constructor(model: Model, options: Omit<ContextStoreOptions, 'cacheDir'> = {}) {
    super(model, options);
  }

  override identity(press?: Press): ContextIdentity {
    if (!press) return super.identity();
    const scorers = scorersOf(press);
    if (scorers.length === 0) return super.identity(press);
    // press.toJSON() leaves the functions out; their ids tell two scorers apart.
    return { ...super.identity(), press: { ...(JSON.parse(JSON.stringify(press.toJSON())) as Record<string, unknown>), jsScorers: scorers } };
  }
}
