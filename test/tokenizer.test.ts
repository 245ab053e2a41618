import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnsupportedArchitectureError } from '../engine/errors.js';
import { GgufValueType, readGguf, type GgufValue } from '../engine/gguf.js';
import { readModelFiles, type ModelFiles } from '../engine/model-files.js';
import { loadTokenizer, type TextTokenizer } from '../engine/tokenizer.js';
import { ggufTokenizerDefinition } from '../engine/tokenizer-gguf.js';

const models = fileURLToPath(new URL('../../shared/models/', import.meta.url));
const stories = `${models}stories260K.gguf`;
const goldenPath = `${models}golden-stories260K.json`;
const vocabDir = `${models}vocab/`;
const haveShared = existsSync(stories) && existsSync(goldenPath);
if (!haveShared) console.warn(`skipping real-vocabulary tokenizer tests: ${models} not found (../shared is absent)`);

const utf8 = (s: string) => new TextEncoder().encode(s);
const concatBytes = (tok: TextTokenizer, ids: number[]) => Buffer.concat(ids.map((id) => Buffer.from(tok.tokenBytes(id))));

/** Just enough of ModelFiles for loadTokenizer. */
function filesFor(tokenizerSource: ModelFiles['tokenizerSource'], generationConfig: ModelFiles['generationConfig'] = { eosTokenIds: [] }): ModelFiles {
  return { tokenizerSource, generationConfig } as ModelFiles;
}

/** Reference: GPT-2's byte → printable-unicode table, written out from its definition. */
function bytesToUnicode(): string[] {
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = keep(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return table;
}
const B2U = bytesToUnicode();
const byteLevel = (s: string) => Array.from(utf8(s), (b) => B2U[b]).join('');

describe.skipIf(!haveShared)('stories260K (GGUF SentencePiece vocabulary)', () => {
  let tok: TextTokenizer;
  const golden = haveShared ? JSON.parse(readFileSync(goldenPath, 'utf8')) : { tokenizer: [] };
  beforeAll(async () => {
    tok = await loadTokenizer(await readModelFiles(stories));
  });

  it('reproduces llama.cpp ids, pieces and round trips for every golden case', () => {
    expect(golden.tokenizer.length).toBeGreaterThanOrEqual(7);
    for (const c of golden.tokenizer as Array<{ text: string; ids: number[]; pieces: string[]; roundTrip: string }>) {
      const ids = tok.encode(c.text);
      expect(ids, JSON.stringify(c.text)).toEqual(c.ids);
      expect(ids.map((id) => tok.tokenPiece(id))).toEqual(c.pieces);
      expect(tok.decode(ids)).toBe(c.roundTrip);
    }
  });

  it('matches a plain reference of llama.cpp\'s SentencePiece merge loop on random text', async () => {
    const g = await readGguf(stories);
    const pieces = g.metadata['tokenizer.ggml.tokens'] as string[];
    const scores = g.metadata['tokenizer.ggml.scores'] as number[];
    const types = g.metadata['tokenizer.ggml.token_type'] as number[];
    const idOf = new Map(pieces.map((p, id) => [p, id]));
    // llama.cpp: escape spaces with a space prefix, then repeatedly merge the adjacent pair whose
    // union is the best-scoring piece (leftmost on ties); leftovers become <0xNN> byte tokens.
    const reference = (text: string): number[] => {
      if (text === '') return [];
      const symbols = Array.from(` ${text}`.replaceAll(' ', '▁'));
      for (;;) {
        let best = -1;
        let bestScore = -Infinity;
        for (let i = 0; i + 1 < symbols.length; i++) {
          const id = idOf.get(symbols[i] + symbols[i + 1]);
          if (id !== undefined && types[id] === 1 && scores[id] > bestScore) {
            best = i;
            bestScore = scores[id];
          }
        }
        if (best < 0) break;
        symbols.splice(best, 2, symbols[best] + symbols[best + 1]);
      }
      return symbols.flatMap((sym) => {
        const id = idOf.get(sym);
        if (id !== undefined) return [id];
        return Array.from(utf8(sym), (b) => idOf.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)!);
      });
    };
    const alphabet = 'aaaeeiioouu bcdfghlmnprstwy TLBO.,!?\'"-\n3é日';
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 300; n++) {
      const len = Math.floor(random() * 120);
      let text = '';
      for (let i = 0; i < len; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      expect(tok.encode(text), JSON.stringify(text)).toEqual(reference(text));
    }
  });

  it('knows its special tokens and adds BOS only when asked', () => {
    expect(tok.kind).toBe('spm');
    expect(tok.source).toBe('gguf');
    expect(tok.vocabSize).toBe(512);
    expect(tok.bosTokenId).toBe(golden.specialTokens.bos.id);
    expect(tok.eosTokenIds).toEqual([golden.specialTokens.eos.id]);
    expect(tok.addBos).toBe(true);
    expect(tok.encode('Once upon a time', { addSpecialTokens: true })).toEqual([1, 403, 407, 261, 378]);
    expect(tok.encode('', { addSpecialTokens: true })).toEqual([1]);
    expect(tok.isSpecial(1)).toBe(true);
    expect(tok.isSpecial(2)).toBe(true);
    expect(tok.isSpecial(403)).toBe(false);
    expect(tok.decode([1, 403, 407, 2])).toBe('<s> Once upon</s>');
    expect(tok.decode([1, 403, 407, 2], { skipSpecialTokens: true })).toBe('Once upon');
  });

  it('falls back to byte tokens for characters outside the vocabulary, and tokenBytes rebuilds the text', () => {
    const text = 'héllo 日本 🙂 naïve\ttab\nnew line';
    const ids = tok.encode(text);
    // 日 is E6 97 A5: three byte tokens <0xE6> <0x97> <0xA5>, ids 3 + byte.
    const ri = ids.indexOf(3 + 0xe6);
    expect(ri).toBeGreaterThan(0);
    expect(ids.slice(ri, ri + 3)).toEqual([3 + 0xe6, 3 + 0x97, 3 + 0xa5]);
    expect(tok.tokenPiece(3 + 0xe6)).toBe('<0xE6>');
    expect(Array.from(tok.tokenBytes(3 + 0xe6))).toEqual([0xe6]);
    expect(Buffer.from(tok.tokenBytes(403)).toString()).toBe(' Once');
    // The SentencePiece space prefix is the only difference between the bytes and the text.
    expect(concatBytes(tok, ids).toString()).toBe(` ${text}`);
    expect(tok.decode(ids)).toBe(text);
  });

  it('the same vocabulary as an HF Llama-style tokenizer.json behaves identically', async () => {
    const g = await readGguf(stories);
    const def = ggufTokenizerDefinition(g.metadata);
    const bosPiece = tok.tokenPiece(1);
    const json = {
      ...def.tokenizerJson,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: bosPiece, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [],
        special_tokens: { [bosPiece]: { id: bosPiece, ids: [1], tokens: [bosPiece] } },
      },
    };
    const hf = await loadTokenizer(filesFor({ kind: 'hf-json', tokenizerJson: json, tokenizerConfig: { bos_token: '<s>', eos_token: '</s>' } }));
    expect(hf.kind).toBe('spm');
    expect([hf.bosTokenId, hf.eosTokenIds, hf.addBos]).toEqual([1, [2], true]);
    for (const text of ['Once upon a time', ' Tom\'s 日本 dog!', '']) {
      expect(hf.encode(text, { addSpecialTokens: true })).toEqual(tok.encode(text, { addSpecialTokens: true }));
    }
    for (let id = 0; id < tok.vocabSize; id++) expect(hf.tokenBytes(id)).toEqual(tok.tokenBytes(id));
  });

  it('rejects ids outside the vocabulary with InvalidArgumentError', () => {
    expect(() => tok.decode([5, 512])).toThrow(InvalidArgumentError);
    expect(() => tok.tokenBytes(-1)).toThrow(InvalidArgumentError);
    expect(() => tok.tokenBytes(1.5)).toThrow(/outside the vocabulary/);
    expect(tok.decode([])).toBe('');
  });
});

/**
 * llama.cpp's test-tokenizer-0 format: cases separated by "\n__ggml_vocab_test__\n" (the file ends with
 * one, which adds no case), one line of space-separated ids per case in the .out file.
 */
function vocabCases(inpPath: string): Array<{ text: string; ids: number[] }> {
  const inp = readFileSync(inpPath, 'utf8');
  const out = readFileSync(inpPath.replace(/\.inp$/, '.out'), 'utf8');
  const texts = inp.split('\n__ggml_vocab_test__\n');
  if (texts.at(-1) === '') texts.pop();
  const lines = out.split('\n');
  if (lines.at(-1) === '') lines.pop();
  expect(lines.length).toBe(texts.length);
  return texts.map((text, i) => ({ text, ids: lines[i].trim() === '' ? [] : lines[i].trim().split(' ').map(Number) }));
}

const vocabFiles = existsSync(vocabDir) ? readdirSync(vocabDir).filter((f) => f.endsWith('.gguf.inp')) : [];
if (vocabFiles.length === 0) console.warn(`skipping llama.cpp vocabulary tests: no *.inp files in ${vocabDir}`);

const vocabTokenizers = new Map<string, Promise<TextTokenizer>>();
function vocabTokenizer(ggufName: string): Promise<TextTokenizer> {
  let tok = vocabTokenizers.get(ggufName);
  if (!tok) {
    tok = readGguf(`${vocabDir}${ggufName}`).then((g) => loadTokenizer(filesFor({ kind: 'gguf', metadata: g.metadata })));
    vocabTokenizers.set(ggufName, tok);
  }
  return tok;
}

describe.skipIf(vocabFiles.length === 0)('llama.cpp test-tokenizer-0 vocabularies', () => {
  it.each(vocabFiles)('%s: every case tokenizes to the ids of the .out file', async (inpName) => {
    const tok = await vocabTokenizer(inpName.replace(/\.inp$/, ''));
    const cases = vocabCases(`${vocabDir}${inpName}`);
    if (inpName === 'ggml-vocab-gpt-2.gguf.inp') expect(cases).toHaveLength(46);
    for (const c of cases) {
      // As test-tokenizer-0: no BOS, special-token text not parsed.
      const ids = tok.encode(c.text, { addSpecialTokens: false, parseSpecialTokens: false });
      expect(ids, JSON.stringify(c.text)).toEqual(c.ids);
      if (tok.kind === 'byte-level') expect(concatBytes(tok, ids).equals(Buffer.from(utf8(c.text)))).toBe(true);
    }
  });

  it.skipIf(!vocabFiles.includes('ggml-vocab-gpt-2.gguf.inp'))('gpt-2: kind, size, decode and the end-of-text token', async () => {
    const tok = await vocabTokenizer('ggml-vocab-gpt-2.gguf');
    expect(tok.kind).toBe('byte-level');
    expect(tok.vocabSize).toBe(50257);
    expect(tok.addBos).toBe(false);
    for (const c of vocabCases(`${vocabDir}ggml-vocab-gpt-2.gguf.inp`)) expect(tok.decode(c.ids)).toBe(c.text);
    expect(tok.isSpecial(50256)).toBe(true);
    expect(tok.encode('a<|endoftext|>b')).toEqual([64, 50256, 65]);
    expect(tok.encode('a<|endoftext|>b', { parseSpecialTokens: false })).not.toContain(50256);
    expect(tok.decode([64, 50256, 65], { skipSpecialTokens: true })).toBe('ab');
  });
});

// ---------------------------------------------------------------------------------------------
// Synthetic SentencePiece vocabularies

function spmMetadata(normal: Array<[string, number]>, extra: Record<string, GgufValue> = {}): Record<string, GgufValue> {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
    scores.push(0);
  }
  for (const [piece, score] of normal) {
    tokens.push(piece);
    types.push(1);
    scores.push(score);
  }
  return {
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': types,
    'tokenizer.ggml.scores': scores,
    'tokenizer.ggml.unknown_token_id': 0,
    'tokenizer.ggml.bos_token_id': 1,
    'tokenizer.ggml.eos_token_id': 2,
    ...extra,
  };
}

describe('GGUF SentencePiece vocabularies', () => {
  const chars: Array<[string, number]> = [...'▁abc'].map((c, i) => [c, -100 - i]);
  const piecesOf = (tok: TextTokenizer, text: string) => tok.encode(text).map((id) => tok.tokenPiece(id));

  it('merges by score, best first, whatever the order of the pieces in the vocabulary', async () => {
    const meta = spmMetadata([...chars, ['bc', -2], ['ab', -1], ['▁a', -50]]);
    const tok = await loadTokenizer(filesFor({ kind: 'gguf', metadata: meta }));
    // "▁abc": ab (-1) beats bc (-2) and ▁a (-50), so the result is ▁ ab c.
    expect(piecesOf(tok, 'abc')).toEqual(['▁', 'ab', 'c']);
    const bcFirst = spmMetadata([...chars, ['bc', -1], ['ab', -2], ['▁a', -50]]);
    expect(piecesOf(await loadTokenizer(filesFor({ kind: 'gguf', metadata: bcFirst })), 'abc')).toEqual(['▁a', 'bc']);
  });

  it('merges across words when the vocabulary has pieces that span a space', async () => {
    const spanning = spmMetadata([...chars, ['a▁', -3], ['a▁b', -2]]);
    const tok = await loadTokenizer(filesFor({ kind: 'gguf', metadata: spanning }));
    expect(piecesOf(tok, 'a b')).toEqual(['▁', 'a▁b']);
    const words = spmMetadata([...chars, ['▁b', -3]]);
    expect(piecesOf(await loadTokenizer(filesFor({ kind: 'gguf', metadata: words })), 'a b')).toEqual(['▁', 'a', '▁b']);
  });

  it('honours tokenizer.ggml.add_space_prefix = false and add_bos_token = false', async () => {
    const meta = spmMetadata([...chars, ['▁a', -1]], { 'tokenizer.ggml.add_space_prefix': false, 'tokenizer.ggml.add_bos_token': false });
    const tok = await loadTokenizer(filesFor({ kind: 'gguf', metadata: meta }));
    expect(piecesOf(tok, 'a a')).toEqual(['a', '▁a']);
    expect(tok.addBos).toBe(false);
    expect(tok.encode('a', { addSpecialTokens: true })).toEqual(tok.encode('a'));
    expect(tok.decode(tok.encode('a a'))).toBe('a a');
  });
});

// ---------------------------------------------------------------------------------------------
// Synthetic byte-level vocabularies: check that tokenizer.ggml.pre selects the right pre-tokenizer.

function byteLevelGgufMetadata(pre: string | undefined, mergePairs: Array<[string, string]>, extra: Record<string, GgufValue> = {}) {
  const tokens = [...B2U];
  const merges: string[] = [];
  for (const [a, b] of mergePairs) {
    merges.push(`${a} ${b}`);
    if (!tokens.includes(a + b)) tokens.push(a + b);
  }
  tokens.push('<|im_start|>', '<|im_end|>', '<think>');
  const types = tokens.map((t) => (t === '<think>' ? 4 : t.startsWith('<|') ? 3 : 1));
  const metadata: Record<string, GgufValue> = {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': types,
    'tokenizer.ggml.merges': merges,
    'tokenizer.ggml.eos_token_id': tokens.indexOf('<|im_end|>'),
    ...extra,
  };
  if (pre !== undefined) metadata['tokenizer.ggml.pre'] = pre;
  return { metadata, tokens };
}

describe('GGUF byte-level pre-tokenizers', () => {
  const digitMerges: Array<[string, string]> = [
    ['1', '2'],
    ['12', '3'],
    ['123', '4'],
    ['Ġ', '1'],
    ["'", 'S'],
    ['Ġ', 'x'],
  ];

  async function tokenizerFor(pre: string | undefined, extra: Record<string, GgufValue> = {}) {
    const { metadata, tokens } = byteLevelGgufMetadata(pre, digitMerges, extra);
    return { tok: await loadTokenizer(filesFor({ kind: 'gguf', metadata })), tokens };
  }
  const pieces = (tok: TextTokenizer, text: string) => tok.encode(text).map((id) => tok.tokenPiece(id));

  it('gpt-2 keeps digit runs together; qwen2 splits every digit; llama3 groups digits by three', async () => {
    expect(pieces((await tokenizerFor('gpt-2')).tok, '1234')).toEqual(['1234']);
    expect(pieces((await tokenizerFor(undefined)).tok, '1234')).toEqual(['1234']);
    expect(pieces((await tokenizerFor('qwen2')).tok, '1234')).toEqual(['1', '2', '3', '4']);
    expect(pieces((await tokenizerFor('llama3')).tok, '1234')).toEqual(['123', '4']);
    // gpt-2 attaches the space to the number; qwen2's \p{N} alternative leaves it alone.
    expect(pieces((await tokenizerFor('gpt-2')).tok, 'x 1')).toEqual(['x', 'Ġ1']);
    expect(pieces((await tokenizerFor('qwen2')).tok, 'x 1')).toEqual(['x', 'Ġ', '1']);
  });

  it("the qwen2 and llama3 patterns match contractions case-insensitively (?i:'s)", async () => {
    expect(pieces((await tokenizerFor('qwen2')).tok, "IT'S")).toEqual(['I', 'T', "'S"]);
    // gpt-2's contractions are lowercase only: "'S" is punctuation followed by a letter there.
    expect(pieces((await tokenizerFor('gpt-2')).tok, "IT'S")).toEqual(['I', 'T', "'", 'S']);
  });

  it('matches control and user-defined tokens atomically; tokenBytes gives their text and every byte otherwise', async () => {
    const { tok, tokens } = await tokenizerFor('qwen2');
    const start = tokens.indexOf('<|im_start|>');
    const end = tokens.indexOf('<|im_end|>');
    const think = tokens.indexOf('<think>');
    const ids = tok.encode('<|im_start|>x 1<think>é<|im_end|>');
    expect(ids[0]).toBe(start);
    expect(ids).toContain(think);
    expect(ids.at(-1)).toBe(end);
    expect(tok.isSpecial(start)).toBe(true);
    expect(tok.isSpecial(think)).toBe(false);
    expect(tok.eosTokenIds).toEqual([end]);
    expect(concatBytes(tok, ids).toString()).toBe('<|im_start|>x 1<think>é<|im_end|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('x 1<think>é');
    // parseSpecialTokens: false reads control-token text as plain characters (user-defined ones still match).
    const literal = tok.encode('<|im_start|>x<think>', { parseSpecialTokens: false });
    expect(literal).not.toContain(start);
    expect(literal).toContain(think);
    expect(concatBytes(tok, literal).toString()).toBe('<|im_start|>x<think>');
    // é = C3 A9: two byte tokens, each one raw byte.
    const e = ids.slice(ids.indexOf(think) + 1, -1);
    expect(e.map((id) => Array.from(tok.tokenBytes(id)))).toEqual([[0xc3], [0xa9]]);
  });

  it('adds BOS for llama3 vocabularies and when tokenizer.ggml.add_bos_token says so', async () => {
    const bos = { 'tokenizer.ggml.bos_token_id': 256 };
    expect((await tokenizerFor('llama3', bos)).tok.addBos).toBe(true);
    expect((await tokenizerFor('qwen2', bos)).tok.addBos).toBe(false);
    const forced = (await tokenizerFor('qwen2', { ...bos, 'tokenizer.ggml.add_bos_token': true })).tok;
    expect(forced.addBos).toBe(true);
    expect(forced.encode('x', { addSpecialTokens: true })).toEqual([256, B2U.indexOf('x')]);
    expect(forced.encode('x')).toEqual([B2U.indexOf('x')]);
  });

  it('refuses unknown pre-tokenizers and tokenizer models with a typed error', async () => {
    await expect(tokenizerFor('deepseek-coder')).rejects.toThrow(UnsupportedArchitectureError);
    await expect(tokenizerFor('deepseek-coder')).rejects.toThrow(/supported: gpt-2, default, qwen2, llama3/);
    const { metadata } = byteLevelGgufMetadata('gpt-2', []);
    metadata['tokenizer.ggml.model'] = 'bert';
    await expect(loadTokenizer(filesFor({ kind: 'gguf', metadata }))).rejects.toThrow(/"bert" is not supported/);
  });
});

// ---------------------------------------------------------------------------------------------
// HF tokenizer.json

function qwenStyleTokenizerJson() {
  const vocab: Record<string, number> = {};
  B2U.forEach((c, i) => (vocab[c] = i));
  const merges: Array<[string, string]> = [
    ['h', 'e'],
    ['l', 'l'],
    ['he', 'll'],
    ['hell', 'o'],
    ['Ġ', 'w'],
  ];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  const n = Object.keys(vocab).length;
  return {
    version: '1.0',
    added_tokens: [
      { id: n, content: '<|endoftext|>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
      { id: n + 1, content: '<|im_start|>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
      { id: n + 2, content: '<|im_end|>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
    ],
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex:
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
          },
          behavior: 'Isolated',
          invert: false,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: { type: 'BPE', dropout: null, unk_token: null, byte_fallback: false, vocab, merges },
  };
}

describe('HF tokenizer.json', () => {
  it('byte-level BPE (Qwen2 style): merges, specials, decode, tokenBytes, eos from generation_config', async () => {
    const json = qwenStyleTokenizerJson();
    const tok = await loadTokenizer(
      filesFor(
        { kind: 'hf-json', tokenizerJson: json, tokenizerConfig: { eos_token: '<|im_end|>', clean_up_tokenization_spaces: false } },
        { eosTokenIds: [263, 262] },
      ),
    );
    // A gap in the id numbering is inside the vocabulary but stands for no text.
    const gappy = qwenStyleTokenizerJson();
    (gappy.added_tokens as Array<{ id: number }>)[2].id = 270;
    const withGap = await loadTokenizer(filesFor({ kind: 'hf-json', tokenizerJson: gappy, tokenizerConfig: {} }));
    expect(withGap.vocabSize).toBe(271);
    expect(withGap.tokenBytes(265)).toEqual(new Uint8Array(0));
    expect(withGap.decode([259, 265, 270])).toBe('hello<|im_end|>');
    expect(() => withGap.tokenBytes(271)).toThrow(InvalidArgumentError);
    // A BOS flag without a BOS token changes nothing.
    const flagOnly = await loadTokenizer(filesFor({ kind: 'hf-json', tokenizerJson: json, tokenizerConfig: { add_bos_token: true } }));
    expect(flagOnly.addBos).toBe(false);
    expect(tok.kind).toBe('byte-level');
    expect(tok.source).toBe('hf-json');
    expect(tok.vocabSize).toBe(264);
    expect(tok.addBos).toBe(false);
    expect(tok.bosTokenId).toBeUndefined();
    expect(tok.eosTokenIds).toEqual([263, 262]);
    const ids = tok.encode('<|im_start|>hello world 日<|im_end|>', { addSpecialTokens: true });
    expect(ids.map((id) => tok.tokenPiece(id))).toEqual([
      '<|im_start|>',
      'hello',
      'Ġw',
      'o',
      'r',
      'l',
      'd',
      'Ġ',
      ...Array.from(byteLevel('日')),
      '<|im_end|>',
    ]);
    expect(concatBytes(tok, ids).toString()).toBe('<|im_start|>hello world 日<|im_end|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('hello world 日');
    expect(tok.isSpecial(262)).toBe(true);
  });

  it('a BOS-adding post-processor (Llama 3 style) sets addBos; eos falls back to tokenizer_config', async () => {
    const json = qwenStyleTokenizerJson() as Record<string, unknown>;
    const bos = (json.added_tokens as Array<{ id: number; content: string }>)[0];
    bos.content = '<|begin_of_text|>';
    json.post_processor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
      special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [bos.id], tokens: ['<|begin_of_text|>'] } },
    };
    const tok = await loadTokenizer(
      filesFor({ kind: 'hf-json', tokenizerJson: json, tokenizerConfig: { bos_token: '<|begin_of_text|>', eos_token: { content: '<|im_end|>' } } }),
    );
    expect(tok.bosTokenId).toBe(bos.id);
    expect(tok.eosTokenIds).toEqual([263]);
    expect(tok.addBos).toBe(true);
    expect(tok.encode('hello', { addSpecialTokens: true })).toEqual([bos.id, 259]);
    expect(tok.encode('hello')).toEqual([259]);
    // Literal mode still adds the real BOS, but text that spells it stays text.
    const literal = tok.encode('<|begin_of_text|>hello', { addSpecialTokens: true, parseSpecialTokens: false });
    expect(literal[0]).toBe(bos.id);
    expect(literal.slice(1)).not.toContain(bos.id);
    expect(concatBytes(tok, literal.slice(1)).toString()).toBe('<|begin_of_text|>hello');

    // tokenizer_config's add_bos_token / add_eos_token override the post-processor, as in transformers.
    const config = { bos_token: '<|begin_of_text|>', eos_token: '<|im_end|>' };
    const noBos = await loadTokenizer(filesFor({ kind: 'hf-json', tokenizerJson: json, tokenizerConfig: { ...config, add_bos_token: false } }));
    expect(noBos.addBos).toBe(false);
    expect(noBos.encode('hello', { addSpecialTokens: true })).toEqual([259]);
    const withEos = await loadTokenizer(filesFor({ kind: 'hf-json', tokenizerJson: json, tokenizerConfig: { ...config, add_eos_token: true } }));
    expect(withEos.encode('hello', { addSpecialTokens: true })).toEqual([bos.id, 259, 263]);
  });
});
