import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { IncrementalDetokenizer } from '../engine/detokenizer.js';
import type { GgufValue } from '../engine/gguf.js';
import { readModelFiles, type ModelFiles } from '../engine/model-files.js';
import { loadTokenizer, type TextTokenizer } from '../engine/tokenizer.js';

const stories = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
if (!existsSync(stories)) console.warn(`skipping stories260K detokenizer tests: ${stories} not found (../shared is absent)`);

function streamAll(tok: TextTokenizer, ids: number[], includeSpecialTokens = false) {
  const d = new IncrementalDetokenizer(tok, { includeSpecialTokens });
  const pieces = ids.map((id) => d.push(id));
  pieces.push(d.flush());
  return { pieces, text: pieces.join(''), detok: d };
}

const REPLACEMENT = '\uFFFD';

describe.skipIf(!existsSync(stories))('IncrementalDetokenizer over SentencePiece byte-fallback tokens', () => {
  let tok: TextTokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(await readModelFiles(stories));
  });

  it('holds back a character split across byte tokens until its last byte arrives', () => {
    // 日 = E6 97 A5, 🙂 = F0 9F 99 82: none of them is in the 512-piece vocabulary.
    const ids = tok.encode('a 日🙂');
    const byteIds = ids.filter((id) => /^<0x/.test(tok.tokenPiece(id)));
    expect(byteIds.map((id) => tok.tokenPiece(id))).toEqual(['<0xE6>', '<0x97>', '<0xA5>', '<0xF0>', '<0x9F>', '<0x99>', '<0x82>']);
    const { pieces, text } = streamAll(tok, ids);
    const at = ids.indexOf(byteIds[0]);
    expect(pieces.slice(at, at + 7)).toEqual(['', '', '日', '', '', '', '🙂']);
    expect(text).toBe(' a 日🙂');
    for (const p of pieces) expect(p).not.toContain(REPLACEMENT);
  });

  it('streams exactly the bytes a full decode gives (plus the SentencePiece space prefix)', () => {
    for (const sample of ['Once upon a time, Lily saw a big dog.', 'naïve café — ünïcödé ✓ 中文 ok', '  two  spaces\nand\ttabs ']) {
      const ids = tok.encode(sample);
      const { text, detok } = streamAll(tok, ids);
      expect(text).toBe(` ${tok.decode(ids)}`);
      expect(detok.text).toBe(text);
    }
  });

  it('special tokens emit nothing unless asked', () => {
    const ids = [1, ...tok.encode('The end.'), 2];
    expect(streamAll(tok, ids).text).toBe(' The end.');
    expect(streamAll(tok, ids, true).text).toBe('<s> The end.</s>');
    expect(streamAll(tok, ids).pieces.at(-2)).toBe('');
  });

  it('flush turns an unfinished character into U+FFFD, as a full decode does', () => {
    const ids = tok.encode('日').filter((id) => /^<0x/.test(tok.tokenPiece(id)));
    const d = new IncrementalDetokenizer(tok);
    expect(d.push(ids[0])).toBe('');
    expect(d.push(ids[1])).toBe('');
    expect(d.flush()).toBe(REPLACEMENT);
    expect(tok.decode(ids.slice(0, 2))).toBe(REPLACEMENT);
    // The detokenizer is reusable after a flush.
    expect(ids.map((id) => d.push(id)).join('')).toBe('日');
  });
});

/** Reference GPT-2 byte → unicode table. */
const B2U: string[] = (() => {
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const t: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) t[b] = keep(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return t;
})();

describe('IncrementalDetokenizer over byte-level BPE tokens', () => {
  let tok: TextTokenizer;
  const u = (...bytes: number[]) => bytes.map((b) => B2U[b]).join('');
  // Merges that cut characters in odd places: 日 = E6 97 A5, 本 = E6 9C AC.
  const merges: Array<[string, string]> = [
    [u(0xe6), u(0x97)],
    [u(0xa5), u(0xe6)],
    [u(0x9c), u(0xac)],
  ];
  beforeAll(async () => {
    const tokens = [...B2U];
    for (const [a, b] of merges) tokens.push(a + b);
    tokens.push('<|endoftext|>');
    const metadata: Record<string, GgufValue> = {
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'qwen2',
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.token_type': tokens.map((t) => (t === '<|endoftext|>' ? 3 : 1)),
      'tokenizer.ggml.merges': merges.map(([a, b]) => `${a} ${b}`),
      'tokenizer.ggml.eos_token_id': tokens.length - 1,
    };
    tok = await loadTokenizer({ tokenizerSource: { kind: 'gguf', metadata }, generationConfig: { eosTokenIds: [] } } as unknown as ModelFiles);
  });

  it('emits each character once the token that completes it arrives', () => {
    const ids = tok.encode('日本');
    expect(ids.map((id) => tok.tokenPiece(id))).toEqual([u(0xe6, 0x97), u(0xa5, 0xe6), u(0x9c, 0xac)]);
    expect(streamAll(tok, ids).pieces).toEqual(['', '日', '本', '']);
  });

  it('matches the full decode for mixed text and skips the end-of-text token', () => {
    const text = 'x 日本, 日本語 — ok 🙂!';
    const ids = [...tok.encode(text), tok.eosTokenIds[0]];
    const { pieces, text: streamed } = streamAll(tok, ids);
    expect(streamed).toBe(text);
    expect(streamed).toBe(tok.decode(ids, { skipSpecialTokens: true }));
    for (const p of pieces) expect(p).not.toContain(REPLACEMENT);
    expect(streamAll(tok, ids, true).text).toBe(`${text}<|endoftext|>`);
  });
});
