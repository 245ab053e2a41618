// Splits generated text, as it streams, into answer text, reasoning (<think>…</think>) and tool-call bodies
// (<tool_call>…</tool_call>). Text that might be the start of a tag is held back until it is decided,
// so a tag never leaks into a text delta.

export type Segment = { kind: 'text' | 'reasoning'; text: string } | { kind: 'tool-call'; body: string };

export interface SegmenterOptions {
  /** Recognise <think>…</think> (templates that support thinking). */
  thinking: boolean;
  /** The prompt already opened a <think> block: output starts as reasoning. */
  startInReasoning?: boolean;
  /** Recognise <tool_call>…</tool_call> (tools were offered). */
  toolCalls: boolean;
}

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';
const CALL_OPEN = '<tool_call>';
const CALL_CLOSE = '</tool_call>';

export class OutputSegmenter {
  private mode: 'text' | 'reasoning' | 'tool-call';
  private pending = '';
  private callBody = '';
  /** Whitespace right after a tag is the template's separator, not content. */
  private trimNextText = false;

  constructor(private readonly options: SegmenterOptions) {
    this.mode = options.thinking && options.startInReasoning ? 'reasoning' : 'text';
  }

  push(delta: string): Segment[] {
    this.pending += delta;
    const out: Segment[] = [];
    for (;;) {
      const tags = this.tagsFor();
      let hit: { index: number; tag: string } | null = null;
      for (const tag of tags) {
        const index = this.pending.indexOf(tag);
        if (index >= 0 && (!hit || index < hit.index)) hit = { index, tag };
      }
      if (hit) {
        this.emit(this.pending.slice(0, hit.index), out);
        this.pending = this.pending.slice(hit.index + hit.tag.length);
        this.switchOn(hit.tag, out);
        continue;
      }
      // Keep back the longest tail that could still become a tag.
      let keep = 0;
      for (const tag of tags) {
        for (let n = Math.min(tag.length - 1, this.pending.length); n > keep; n--) {
          if (tag.startsWith(this.pending.slice(this.pending.length - n))) {
            keep = n;
            break;
          }
        }
      }
      this.emit(this.pending.slice(0, this.pending.length - keep), out);
      this.pending = this.pending.slice(this.pending.length - keep);
      return out;
    }
  }

  /** The end of the output: whatever is held back is what it is (an unclosed call stays text). */
  end(): Segment[] {
    const out: Segment[] = [];
    this.emit(this.pending, out);
    this.pending = '';
    if (this.mode === 'tool-call') {
      out.push({ kind: 'text', text: CALL_OPEN + this.callBody });
      this.callBody = '';
      this.mode = 'text';
    }
    return out;
  }

  private tagsFor(): string[] {
    switch (this.mode) {
      case 'reasoning':
        return [THINK_CLOSE];
      case 'tool-call':
        return [CALL_CLOSE];
      case 'text': {
        const tags: string[] = [];
        if (this.options.thinking) tags.push(THINK_OPEN);
        if (this.options.toolCalls) tags.push(CALL_OPEN);
        return tags;
      }
    }
  }

  private switchOn(tag: string, out: Segment[]): void {
    switch (tag) {
      case THINK_OPEN:
        this.mode = 'reasoning';
        this.trimNextText = true;
        break;
      case THINK_CLOSE:
        this.mode = 'text';
        this.trimNextText = true;
        break;
      case CALL_OPEN:
        this.mode = 'tool-call';
        this.callBody = '';
        break;
      case CALL_CLOSE:
        out.push({ kind: 'tool-call', body: this.callBody });
        this.callBody = '';
        this.mode = 'text';
        this.trimNextText = true;
        break;
    }
  }

  private emit(text: string, out: Segment[]): void {
    if (this.mode === 'tool-call') {
      this.callBody += text;
      return;
    }
    if (this.trimNextText) {
      text = text.replace(/^\s+/, '');
      if (text === '') return;
      this.trimNextText = false;
    }
    if (text === '') return;
    const last = out[out.length - 1];
    if (last && last.kind === this.mode) last.text += text;
    else out.push({ kind: this.mode, text });
  }
}
