// Server-sent events for streamed chat completions: `data: <json>\n\n` frames, `data: [DONE]` at the end.
// The stream's own cancel (the client went away) and the request's signal both abort the producer.

export type SendEvent = (data: unknown) => void;

/**
 * A text/event-stream Response fed by `produce`. `produce` gets a signal that fires when the client
 * disconnects; whatever it throws is sent as an `{ error }` event (the status is already 200 by then).
 */
export function sseResponse(
  produce: (send: SendEvent, signal: AbortSignal) => Promise<void>,
  options: { requestSignal?: AbortSignal; errorBody: (err: unknown) => unknown },
): Response {
  const abort = new AbortController();
  const onRequestAbort = () => abort.abort();
  options.requestSignal?.addEventListener('abort', onRequestAbort, { once: true });
  if (options.requestSignal?.aborted) abort.abort();
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
      produce(send, abort.signal)
        .then(
          () => send('[DONE]'),
          (err: unknown) => {
            if (!abort.signal.aborted) send(options.errorBody(err));
          },
        )
        .finally(() => {
          options.requestSignal?.removeEventListener('abort', onRequestAbort);
          if (!closed) {
            closed = true;
            try {
              controller.close();
            } catch {
              // already cancelled by the client
            }
          }
        });
    },
    cancel() {
      closed = true;
      abort.abort();
    },
  });

  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' },
  });
}
