// Errors as OpenAI-compatible clients expect them: `{ "error": { "message", "type", "param", "code" } }`
// with a matching HTTP status, so the official clients raise their typed errors (BadRequestError, ...).
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { PressKVError, type PressKVErrorCode } from '../engine/errors.js';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly type = 'invalid_request_error',
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

const STATUS_OF: Record<PressKVErrorCode, ContentfulStatusCode> = {
  ERR_INVALID_ARGUMENT: 400,
  ERR_CONTEXT_OVERFLOW: 400,
  ERR_NOT_FOUND: 404,
  ERR_CORRUPT_FILE: 422,
  ERR_UNSUPPORTED_DTYPE: 400,
  ERR_UNSUPPORTED_ARCHITECTURE: 400,
  ERR_OUT_OF_MEMORY: 503,
  ERR_ABORTED: 499 as ContentfulStatusCode,
  ERR_DEVICE_UNAVAILABLE: 503,
  ERR_INTERNAL: 500,
};

const CODE_OF: Partial<Record<PressKVErrorCode, string>> = {
  ERR_CONTEXT_OVERFLOW: 'context_length_exceeded',
  ERR_NOT_FOUND: 'not_found',
  ERR_CORRUPT_FILE: 'context_file_unusable',
  ERR_OUT_OF_MEMORY: 'kv_memory_exhausted',
};

/** Any thrown value → status + OpenAI-style body. Unknown errors are 500s without internals. */
export function toOpenAIError(err: unknown): { status: ContentfulStatusCode; body: OpenAIErrorBody } {
  if (err instanceof HttpError) {
    return { status: err.status, body: { error: { message: err.message, type: err.type, param: err.param, code: err.code } } };
  }
  if (err instanceof z.ZodError) {
    const first = err.issues[0];
    return {
      status: 400,
      body: {
        error: {
          message: `Invalid request body: ${z.prettifyError(err).replace(/\n+/g, '; ')}`,
          type: 'invalid_request_error',
          param: first?.path.length ? first.path.join('.') : null,
          code: 'invalid_request_body',
        },
      },
    };
  }
  if (err instanceof PressKVError) {
    const status = STATUS_OF[err.code] ?? 500;
    const type = status >= 500 ? 'server_error' : 'invalid_request_error';
    return { status, body: { error: { message: err.message, type, param: null, code: CODE_OF[err.code] ?? err.code.toLowerCase() } } };
  }
  // An unexpected failure: log it for the operator, tell the client only that it happened.
  console.error('presskv server: unexpected error', err);
  return { status: 500, body: { error: { message: 'Internal server error', type: 'server_error', param: null, code: null } } };
}

export function errorResponse(c: Context, err: unknown): Response {
  const { status, body } = toOpenAIError(err);
  return c.json(body, status);
}
