// Streams generated token ids to text without ever emitting half a UTF-8 character: each token's raw
// bytes go through a streaming TextDecoder, which holds back an incomplete character until the
// token that completes it arrives (byte-fallback tokens and byte-level BPE pieces split characters).
import type { TextTokenizer } from './tokenizer.js';

export interface IncrementalDetokenizerOptions {
  /** Emit the text of special tokens (EOS, chat control tokens) instead of nothing. Default false. */
  includeSpecialTokens?: boolean;
}

export class IncrementalDetokenizer {
  private decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private emitted = '';

  constructor(
    private readonly tokenizer: Pick<TextTokenizer, 'tokenBytes' | 'isSpecial'>,
    private readonly options: IncrementalDetokenizerOptions = {},
  ) {}

  /** Adds one token; returns the text it completes ('' while a character is still incomplete). */
  push(id: number): string {
    if (!this.options.includeSpecialTokens && this.tokenizer.isSpecial(id)) return '';
    const text = this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
    this.emitted += text;
    return text;
  }

  /** Ends the stream: bytes of a character that never completed come out as U+FFFD, as a full decode would. */
  flush(): string {
    const text = this.decoder.decode();
    this.emitted += text;
    this.decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    return text;
  }

  /** Everything emitted so far. */
  get text(): string {
    return this.emitted;
  }
}
