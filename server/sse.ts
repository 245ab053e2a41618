// Server-sent events for streamed chat completions: `data: <json>\n\n` frames, `data: [DONE]` at the end.
// The stream's own cancel (the client went away) and the request's signal both abort the producer. When the
// server shuts down (shutdownSignal), the stream ends with an `{ error }` event instead of being cut.

export type SendEvent = (data: unknown) => void;

/**
 * A text/event-stream Response fed by `produce`. `produce` gets a signal that fires when the client
 * disconnects; whatever it throws is sent as an `{ error }` event (the status is already 200 by then).
 */
export function sseResponse(
  produce: (send: SendEvent, signal: AbortSignal) => Promise<void>,
  options: {
    requestSignal?: AbortSignal;
    errorBody: (err: unknown) => unknown;
    /** When `signal` fires (the server stops) the stream sends `body`, then ends (no [DONE]: the answer is cut short). */
    shutdown?: { signal: AbortSignal; body: unknown };
  },
): Response {
  const abort = new AbortController();
  const onRequestAbort = () => abort.abort();
  options.requestSignal?.addEventListener('abort', onRequestAbort, { once: true });
  if (options.requestSignal?.aborted) abort.abort();
  let endForShutdown: (() => void) | undefined;
  const onShutdown = () => endForShutdown?.();
  const encoder = new TextEncoder();
  let closed = false;

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (frame: string) => {
        if (closed) return;
        try {
          controller.enqueue(encoder.encode(frame));
        } catch {
          closed = true;
        }
      };
      const send: SendEvent = (data) => write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
      const end = () => {
        options.requestSignal?.removeEventListener('abort', onRequestAbort);
        options.shutdown?.signal.removeEventListener('abort', onShutdown);
        if (!closed) {
          closed = true;
          try {
            controller.close();
          } catch {
            // already cancelled by the client
          }
        }
      };
      // The error goes out at once, not after the producer unwinds: the server closes connections soon after.
      endForShutdown = () => {
        send(options.shutdown!.body);
        end();
        abort.abort();
      };
      if (options.shutdown?.signal.aborted) endForShutdown();
      else options.shutdown?.signal.addEventListener('abort', onShutdown, { once: true });
      produce(send, abort.signal)
        .then(
          () => send('[DONE]'),
          (err: unknown) => {
            if (!abort.signal.aborted) send(options.errorBody(err));
          },
        )
        .finally(end);
    },
    cancel() {
      closed = true;
      options.shutdown?.signal.removeEventListener('abort', onShutdown);
      abort.abort();
    },
  });

  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' },
  });
}
