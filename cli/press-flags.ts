// The press flags of `presskv generate` (--press, --compression-ratio, --press-options) and the split of a
// prompt into the context the press compresses and the question it never touches.
import { InvalidArgumentError } from '../engine/errors.js';
import type { PressSpec } from '../engine/presses/base.js';
import { createPress } from '../engine/presses/registry.js';
import { UsageError } from './args.js';

export interface PressFlags {
  press?: string;
  compressionRatio?: number;
  /** JSON object text: more options, and a wrapper's inner press as { "press": { "name": ... } }. */
  options?: string;
}

/**
 * The press spec the flags describe, or undefined without --press. Malformed flags are usage errors (exit 2);
 * a press the registry refuses (unknown name or option, ratio out of range) is its typed InvalidArgumentError
 * (exit 1) — both before any model is loaded.
 */
export function pressSpecFromFlags(flags: PressFlags, usage: string): PressSpec | undefined {
  if (flags.press === undefined) {
    if (flags.compressionRatio !== undefined || flags.options !== undefined)
      throw new UsageError('--compression-ratio and --press-options need --press', usage);
    return undefined;
  }
  if (flags.press === '') throw new UsageError('--press needs a press name (see `presskv presses`)', usage);
  let options: Record<string, unknown> = {};
  if (flags.options !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(flags.options);
    } catch (err) {
      throw new UsageError(`--press-options is not JSON: ${(err as Error).message}`, usage);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new UsageError('--press-options must be a JSON object, e.g. \'{"windowSize": 32}\'', usage);
    options = parsed as Record<string, unknown>;
    if ('name' in options) throw new UsageError('--press-options: give the press name with --press, not as "name"', usage);
  }
  const spec = {
    ...options,
    name: flags.press,
    ...(flags.compressionRatio === undefined ? {} : { compressionRatio: flags.compressionRatio }),
  } as PressSpec;
  createPress(spec);
  return spec;
}

/**
 * Splits the full prompt's tokens at the end of the context: the longest common prefix with the tokens of
 * the context alone (rendered the same way), so a chat template's or tokenizer's merge across the boundary
 * leaves the merged tokens on the question's side.
 */
export function splitContextTokens(promptTokenIds: readonly number[], contextTokenIds: readonly number[]): { contextIds: number[]; questionIds: number[] } {
  let k = 0;
  while (k < promptTokenIds.length && k < contextTokenIds.length && promptTokenIds[k] === contextTokenIds[k]) k++;
  if (k === 0) throw new InvalidArgumentError('The prompt does not start with the context: there is nothing to compress');
  if (k === promptTokenIds.length) throw new InvalidArgumentError('The prompt adds no tokens after the context: give a question with --prompt');
  return { contextIds: promptTokenIds.slice(0, k), questionIds: promptTokenIds.slice(k) };
}
