// The request body as JSON, or a 400 that says the body is not JSON (rather than a 500).
import type { Context } from 'hono';
import { HttpError } from './openai-errors.js';

export async function readJsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') throw new HttpError(400, 'The request body is empty: send a JSON object', 'invalid_request_error', 'invalid_json');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `The request body is not valid JSON: ${(err as Error).message}`, 'invalid_request_error', 'invalid_json');
  }
}
