// Progress of a long step (a prefill, writing a model) on stderr. On a terminal one line is redrawn in place
// with the rate and the time left; elsewhere (a log file, a pipe, CI) a few plain lines: one when a quarter
// (25 %, 50 %, 75 %) is passed, but none sooner than `minLineIntervalMs` after the start or the previous
// line, then one final line — at most four lines however long the step takes.
import type { CommandIo } from './args.js';

export interface ProgressSink {
  /** Writes a whole line. */
  line: (line: string) => void;
  /** Raw writes to a terminal (carriage return redraws); absent or `tty: false`: plain lines only. */
  write?: (text: string) => void;
  tty?: boolean;
}

export interface ProgressUpdate {
  done: number;
  total: number;
  /** What done and total count: 'tokens', 'layers', 'MiB', ... */
  unit: string;
  /** The work done so far in rateUnit, for the rate (default: done, in unit). */
  rateAmount?: number;
  /** Unit of the rate: 'tok' shows "tok/s" (default: unit). */
  rateUnit?: string;
  /** Said after the counts, e.g. "of 2000 tokens". */
  detail?: string;
  /** How long the work has run, when the worker measures it (default: since the renderer was made). */
  elapsedMs?: number;
}

export interface ProgressRendererOptions {
  /** Starts every line, e.g. "prefill". */
  label: string;
  /** Off a terminal: least time between two plain lines before the final one (default 2000 ms). */
  minLineIntervalMs?: number;
  /** Print the final line (default true). False: the caller prints its own result (a terminal line is cleared). */
  showFinal?: boolean;
  /** Clock (tests). */
  now?: () => number;
}

function count(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(0);
}

function rate(perSecond: number): string {
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
}

export class ProgressRenderer {
  private readonly started: number;
  private readonly now: () => number;
  private readonly minLineIntervalMs: number;
  private lastLineAt: number;
  private quarter = 0;
  private drawn = false;
  private finished = false;

  constructor(
    private readonly sink: ProgressSink,
    private readonly options: ProgressRendererOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
    this.lastLineAt = this.started;
    this.minLineIntervalMs = options.minLineIntervalMs ?? 2000;
  }

  private get tty(): boolean {
    return this.sink.tty === true && this.sink.write !== undefined;
  }

  /** Reports progress; the update with done >= total prints the final line, later updates are ignored. */
  update(u: ProgressUpdate): void {
    if (this.finished) return;
    const t = this.now();
    const elapsed = u.elapsedMs ?? t - this.started;
    const last = u.done >= u.total;
    const showFinal = this.options.showFinal !== false;
    const text = last ? this.finalText(u, elapsed) : this.runningText(u, elapsed);
    if (this.tty) {
      this.sink.write!(last && !showFinal ? '\r\x1b[K' : `\r\x1b[K${text}${last ? '\n' : ''}`);
      this.drawn = !last;
    } else if (last) {
      if (showFinal) this.sink.line(text);
    } else {
      const quarter = Math.floor((4 * u.done) / Math.max(1, u.total));
      if (quarter > this.quarter && t - this.lastLineAt >= this.minLineIntervalMs) {
        this.sink.line(text);
        this.lastLineAt = t;
        this.quarter = quarter;
      }
    }
    if (last) this.finished = true;
  }

  /** Ends an unfinished step (an error, an abort): a redrawn terminal line gets its newline. */
  end(): void {
    if (this.drawn && this.tty) this.sink.write!('\n');
    this.drawn = false;
    this.finished = true;
  }

  private runningText(u: ProgressUpdate, elapsed: number): string {
    const percent = Math.floor((100 * u.done) / Math.max(1, u.total));
    let text = `${this.options.label}: ${count(u.done)}/${count(u.total)} ${u.unit}${u.detail ? ` ${u.detail}` : ''} (${percent} %)`;
    if (u.done > 0 && elapsed > 0) {
      text += `, ${rate(((u.rateAmount ?? u.done) * 1000) / elapsed)} ${u.rateUnit ?? u.unit}/s`;
      text += `, ETA ${formatDuration((elapsed * (u.total - u.done)) / u.done)}`;
    }
    return text;
  }

  private finalText(u: ProgressUpdate, elapsed: number): string {
    const amount = u.rateAmount ?? u.done;
    const speed = elapsed > 0 ? ` (${rate((amount * 1000) / elapsed)} ${u.rateUnit ?? u.unit}/s)` : '';
    return `${this.options.label}: ${count(u.total)} ${u.unit}${u.detail ? ` ${u.detail}` : ''} in ${formatDuration(elapsed)}${speed}`;
  }
}

/** Where a command's progress goes: its stderr, redrawn in place when that is a terminal. */
export function stderrSink(io: Pick<CommandIo, 'err' | 'errWrite' | 'errIsTTY'>): ProgressSink {
  return { line: io.err, write: io.errWrite, tty: io.errIsTTY === true };
}

/** A PrefillProgress (engine/types.ts) as a renderer update: tokens counted, or layers with the tokens' rate. */
export function prefillUpdate(p: PrefillReport): ProgressUpdate {
  const elapsedMs = p.elapsedMs;
  if (p.unit === 'tokens') return { done: p.done, total: p.total, unit: 'tokens', rateUnit: 'tok', elapsedMs };
  return {
    done: p.done,
    total: p.total,
    unit: 'layers',
    detail: `of ${p.tokens} tokens`,
    rateAmount: (p.tokens * p.done) / Math.max(1, p.total),
    rateUnit: 'tok',
    elapsedMs,
  };
}

/** engine/types.ts PrefillProgress (elapsedMs optional: the renderer's own clock then). */
export interface PrefillReport {
  done: number;
  total: number;
  unit: 'tokens' | 'layers';
  tokens: number;
  elapsedMs?: number;
}

/** A renderer fed PrefillProgress reports: the callback to pass as onProgress / onPrefillProgress. */
export function prefillProgress(sink: ProgressSink, label = 'prefill', options: Omit<ProgressRendererOptions, 'label'> = {}) {
  const renderer = new ProgressRenderer(sink, { ...options, label });
  const onProgress = (p: PrefillReport) => renderer.update(prefillUpdate(p));
  return { renderer, onProgress };
}
