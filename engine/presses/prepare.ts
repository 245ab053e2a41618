// The one call the engine, CLI and middleware make before a compressed prefill: resolve the press, check it
// against the model, the context length and its artefact files, and produce the native config.
import { z } from 'zod';
import type { ModelConfig } from '../model-spec.js';
import { Press, type NativePressConfig, type PressSpec } from './base.js';
import { createPress } from './registry.js';
import { KVzipPress } from './kvzip.js';
import type { PressTextSource } from './reconstruction-prompts.js';

/** A press as users give it: a name, `{ name, ...options }`, or a press instance (provider / CLI option schemas). */
export const pressSpecSchema = z.union([
  z.string().min(1),
  z.instanceof(Press),
  z.looseObject({ name: z.string().min(1) }),
]) as z.ZodType<PressSpec>;

export interface PreparedPress {
  press: Press;
  native: NativePressConfig;
}

/**
 * Everything that can fail before work starts fails here, as a typed error: unknown press or option,
 * a press that needs the model's tokenizer without it (`target.text`),
 * bad ratio, wrong wrapper nesting (InvalidArgumentError), a window longer than the context, a per-layer list
 * that does not match the model, a missing (ModelNotFoundError) or malformed (CorruptModelError) artefact.
 */
export async function preparePress(
  spec: PressSpec,
  target: { model: ModelConfig; contextTokens: number; text?: PressTextSource },
): Promise<PreparedPress> {
  const press = createPress(spec);
  press.validateForModel(target.model);
  press.validateForContext(target.contextTokens);
  await press.prepare(target.model);
  return { press, native: nativePressConfig(press, target.text) };
}

/**
 * The config the addon receives. `text` (the model's tokenizer and chat template) is what presses that
 * feed the model text of their own need (KVzip's reconstruction prompts); without it they fail here.
 */
export function nativePressConfig(press: Press, text?: PressTextSource): NativePressConfig {
  return press instanceof KVzipPress ? press.nativeConfigFor(text) : press.toNativeConfig();
}
