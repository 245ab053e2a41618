// Shutting the server down without cutting answers mid-air: open SSE streams get an OpenAI-style error event
// (clients raise it as an APIError instead of hanging on, or mistaking a cut stream for a whole answer),
// requests still generating get a 503, and only then are the connections closed.
import type { ServerType } from '@hono/node-server';
import { HttpError } from './openai-errors.js';

/** What a request that was still running when the server stopped is told. */
export function serverShuttingDownError(): HttpError {
  return new HttpError(503, 'The server is shutting down; the answer was cut short. Retry once it is back.', 'server_error', 'server_shutting_down');
}

/** How long close() lets the last error events reach their clients before connections are cut. */
export const SHUTDOWN_GRACE_MS = 2_000;
const POLL_MS = 25;

/**
 * Stops accepting connections and waits (up to graceMs) for the open ones to finish their responses,
 * closing each as soon as it is idle; whatever is still open after that is closed anyway.
 */
export async function closeHttpServer(server: ServerType, graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
  const http = server as ServerType & { closeIdleConnections?: () => void; closeAllConnections?: () => void };
  let closed = false;
  const done = new Promise<void>((resolve) => server.close(() => ((closed = true), resolve())));
  const deadline = Date.now() + graceMs;
  // A keep-alive connection whose response has ended would otherwise hold close() until its idle timeout.
  while (!closed && Date.now() < deadline) {
    http.closeIdleConnections?.();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  http.closeAllConnections?.();
  await done;
}
