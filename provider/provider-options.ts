// providerOptions.presskv: the settings the AI SDK's call options have no field for. Unknown keys are an
// error (a typo must not silently do nothing).
import { InvalidArgumentError } from '@ai-sdk/provider';
import { z } from 'zod';
import { pressSpecSchema } from '../engine/presses/prepare.js';

export const presskvProviderOptionsSchema = z
  .object({
    /** Drop tokens whose probability is below minP × the top token's. */
    minP: z.number().min(0).max(1).optional(),
    /** llama.cpp-style repetition penalty (1 = off). */
    repetitionPenalty: z.number().positive().optional(),
    /** How many recent tokens the penalties look at. */
    penaltyLastN: z.number().int().min(0).optional(),
    /** Thinking models (Qwen3): turn thinking on or off through the chat template. */
    enableThinking: z.boolean().optional(),
    /** Skip the chat template: the model sees the prompt's text as is (completion mode). */
    raw: z.boolean().optional(),
    /** With toolChoice 'auto', still constrain the output to one tool call (as 'required' does). */
    constrainToolCalls: z.boolean().optional(),
    /** Answer from this stored context (provider.cacheContext, or the server's /v1/contexts); its messages go before the prompt. */
    contextId: z.string().min(1).optional(),
    /**
     * Compress the prompt's context part (DESIGN.md §5) with this press — a name, `{ name, compressionRatio, ... }`
     * or a Press — store it, and reuse it for every call with the same context and press; the question is never compressed.
     */
    press: pressSpecSchema.optional(),
  })
  .strict();

export type PressKVProviderOptions = z.infer<typeof presskvProviderOptionsSchema>;

/**
 * Reads and validates providerOptions.presskv. The error names every problem (unknown key, bad value),
 * which the SDK's generic "invalid provider options" message does not.
 */
export function parsePresskvOptions(providerOptions: Record<string, unknown> | undefined): PressKVProviderOptions {
  const raw = providerOptions?.presskv;
  if (raw === undefined) return {};
  const parsed = presskvProviderOptionsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const known = Object.keys(presskvProviderOptionsSchema.shape).join(', ');
  throw new InvalidArgumentError({
    argument: 'providerOptions.presskv',
    message: `Invalid providerOptions.presskv: ${z.prettifyError(parsed.error).replace(/\n+/g, '; ')} (known options: ${known})`,
    cause: parsed.error,
  });
}
