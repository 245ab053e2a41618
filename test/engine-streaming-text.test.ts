// Incremental text of generated tokens: never half a UTF-8 character, never (part of) a stop sequence,
// and the streamed pieces always add up to the final text.
import { describe, expect, it } from 'vitest';
import { StreamingText } from '../engine/generate.js';

const enc = new TextEncoder();
const bytesOf = (pieces: (string | number[])[]) => pieces.map((p) => (typeof p === 'string' ? enc.encode(p) : Uint8Array.from(p)));

function run(pieces: (string | number[])[], stops: string[]) {
  const vocab = bytesOf(pieces);
  const text = new StreamingText({ tokenBytes: (id) => vocab[id] }, stops);
  const deltas = pieces.map((_, id) => text.push(id));
  deltas.push(text.finish());
  return { deltas, final: text.finalText() };
}

describe('StreamingText', () => {
  it('holds a split UTF-8 character until it is complete', () => {
    const euro = [...enc.encode('€')];
    const { deltas, final } = run(['a', euro.slice(0, 1), euro.slice(1), 'b'], []);
    expect(deltas).toEqual(['a', '', '€', 'b', '']);
    expect(final).toBe('a€b');
  });

  it('holds back a possible stop-sequence prefix and cuts before the match', () => {
    const { deltas, final } = run(['Hel', 'lo', ' wo', 'rl', 'd', '!'], ['rld']);
    expect(final).toBe('Hello wo');
    expect(deltas.join('')).toBe(final);
    expect(deltas[3]).toBe(''); // "rl" could start "rld"
    for (const d of deltas) expect(d).not.toMatch(/r/);
  });

  it('releases held-back text when the stop sequence does not follow', () => {
    const { deltas, final } = run(['x', 'EN', 'Dy', 'z'], ['END!']);
    expect(final).toBe('xENDyz');
    expect(deltas).toEqual(['x', '', 'ENDy', 'z', '']);
  });

  it('keeps held-back text until the end when generation stops inside a possible prefix', () => {
    const { deltas, final } = run(['ab', 'c'], ['cd']);
    expect(deltas).toEqual(['ab', '', 'c']);
    expect(final).toBe('abc');
  });

  it('picks the earliest of several stop sequences', () => {
    const { deltas, final } = run(['one', ' two', ' three'], ['three', 'two']);
    expect(final).toBe('one ');
    expect(deltas.join('')).toBe('one ');
  });
});
