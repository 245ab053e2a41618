// Request bodies the server accepts, as zod schemas. Chat requests follow OpenAI's chat completions API
// (fields presskv does not use are accepted and ignored, as OpenAI-compatible servers do; fields that would
// change the answer in a way presskv cannot honour are refused). Context requests follow /v1/contexts.
import { z } from 'zod';

const textPart = z.object({ type: z.literal('text'), text: z.string() });

const content = z.union([z.string(), z.array(textPart).min(1, 'needs at least one part')]);

export const chatMessageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content, name: z.string().optional() }),
  z.object({ role: z.literal('developer'), content, name: z.string().optional() }),
  z.object({ role: z.literal('user'), content, name: z.string().optional() }),
  z.object({ role: z.literal('assistant'), content: content.nullable().optional(), name: z.string().optional() }),
]);

export type ChatMessageInput = z.infer<typeof chatMessageSchema>;

const messages = z.array(chatMessageSchema).min(1, 'needs at least one message');

/** OpenAI's response_format: free text, any JSON object/array, or JSON matching a schema (constrained decoding). */
const responseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().regex(/^[\w-]{1,64}$/, 'must be 1 to 64 letters, digits, underscores or dashes'),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      // The grammar always enforces what it supports, so strict true and false decode alike.
      strict: z.boolean().nullish(),
    }),
  }),
]);

export const chatCompletionRequestSchema = z.object({
  model: z.string().min(1),
  messages,
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** presskv extensions (llama.cpp servers accept the same names). */
  top_k: z.number().int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repetition_penalty: z.number().positive().nullish(),
  /** Keep generating past the end-of-sequence token (llama.cpp server's name). */
  ignore_eos: z.boolean().nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(16)]).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  /** A context stored through /v1/contexts: its messages come first, then this request's. */
  context_id: z.string().min(1).nullish(),
  tools: z.array(z.unknown()).max(0, 'tools are not supported by the presskv server yet (use the AI SDK provider)').nullish(),
  logprobs: z.literal(false, { error: 'logprobs are not supported' }).nullish(),
  response_format: responseFormatSchema.nullish(),
  user: z.string().optional(),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

/** How deep wrapper (`press`) and composed (`presses`) presses may nest; real configurations use two or three. */
export const MAX_PRESS_DEPTH = 8;

/**
 * A press as JSON: `{ "name": "snapkv", "compression_ratio": 0.5, ...options }` (snake_case or camelCase options).
 * Built level by level rather than recursively, so a body nested thousands deep stops at MAX_PRESS_DEPTH with a
 * 400 instead of recursing through the whole body.
 */
function pressSchemaAt(level: number): z.ZodType<PressInput> {
  const inner =
    level < MAX_PRESS_DEPTH
      ? { press: pressSchemaAt(level + 1).optional(), presses: z.array(pressSchemaAt(level + 1)).optional() }
      : {
          press: z.undefined({ error: `presses nest at most ${MAX_PRESS_DEPTH} levels deep` }),
          presses: z.undefined({ error: `presses nest at most ${MAX_PRESS_DEPTH} levels deep` }),
        };
  return z.object({ name: z.string().min(1), ...inner }).catchall(z.unknown()) as z.ZodType<PressInput>;
}

export const pressSchema: z.ZodType<PressInput> = pressSchemaAt(1);

export interface PressInput {
  name: string;
  press?: PressInput;
  presses?: PressInput[];
  [option: string]: unknown;
}

/** One year: a longer lease is a mistake (or 1e300), not a plan; absent = the store's default TTL. */
export const MAX_TTL_SECONDS = 31_536_000;

const ttlSeconds = z
  .number()
  .int('must be a whole number of seconds')
  .min(1, 'must be at least 1 second (leave ttl_seconds out for the server default)')
  .max(MAX_TTL_SECONDS, `must be at most ${MAX_TTL_SECONDS} seconds (one year)`);

export const createContextRequestSchema = z.object({
  content: z.union([z.string().min(1, 'must not be empty'), messages]),
  press: pressSchema.nullish(),
  ttl_seconds: ttlSeconds.nullish(),
  name: z.string().max(256).nullish(),
});

export type CreateContextRequest = z.infer<typeof createContextRequestSchema>;

export const extendContextRequestSchema = z.object({ ttl_seconds: ttlSeconds });
