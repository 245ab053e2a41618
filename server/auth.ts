// Bearer-token auth for the /v1 routes when the server has an API key: `Authorization: Bearer <key>`.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { OpenAIErrorBody } from './openai-errors.js';

// Comparing digests keeps the comparison constant-time whatever the lengths.
const digest = (s: string) => createHash('sha256').update(s).digest();

export function bearerAuth(apiKey: string): MiddlewareHandler {
  const expected = digest(apiKey);
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      const body: OpenAIErrorBody = {
        error: {
          message: match ? 'Incorrect API key provided.' : 'Missing API key: send the header "Authorization: Bearer <key>".',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      };
      return c.json(body, 401, { 'www-authenticate': 'Bearer' });
    }
    await next();
  };
}
