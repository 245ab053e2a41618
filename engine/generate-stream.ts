// Pull-based view of a generation: `for await (const { id, text } of stream)` plus `await stream.result`.
import type { GenerateOptions, GenerateResult } from './types.js';

export interface TokenEvent {
  /** The generated token, or -1 for the text released when generation ends (see GenerateOptions.onToken). */
  id: number;
  /** New text; the texts of all events concatenate to exactly result.text. */
  text: string;
}

export class GenerateStream implements AsyncIterable<TokenEvent> {
  /** Settles when generation ends (rejects with the typed error if it fails). */
  readonly result: Promise<GenerateResult>;
  private readonly queue: TokenEvent[] = [];
  private done = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(run: (options: GenerateOptions) => Promise<GenerateResult>, options: GenerateOptions) {
    const push = (event: TokenEvent) => {
      this.queue.push(event);
      this.wake?.();
    };
    let tokenChars = 0;
    let textChars = 0;
    this.result = run({
      ...options,
      onToken: (t) => {
        options.onToken?.(t);
        tokenChars += t.text.length;
        push(t);
      },
      onText: (delta) => {
        options.onText?.(delta);
        textChars += delta.length;
        // Text released outside a token (the held-back tail at the end) becomes an event of its own.
        if (textChars > tokenChars) {
          push({ id: -1, text: delta });
          tokenChars = textChars;
        }
      },
    }).then(
      (result) => {
        this.done = true;
        this.wake?.();
        return result;
      },
      (err: unknown) => {
        this.failure = err;
        this.done = true;
        this.wake?.();
        throw err;
      },
    );
    // Iteration reports the error too; an unobserved `result` must not crash the process.
    this.result.catch(() => {});
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TokenEvent> {
    for (;;) {
      if (this.queue.length > 0) {
        yield this.queue.shift()!;
        continue;
      }
      if (this.done) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
