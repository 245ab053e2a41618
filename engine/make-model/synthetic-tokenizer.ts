// A byte-level BPE vocabulary of any size: 256 byte tokens, merges learned deterministically from
// SAMPLE_TEXT, synthetic merges when the requested size is larger than the text supports, and the
// special tokens of the Qwen or Llama 3 families at the end (where those families put them).
import type { Architecture } from '../model-spec.js';
import { InvalidArgumentError } from '../errors.js';
import { SAMPLE_TEXT } from './sample-text.js';

export type TokenizerFamily = 'qwen' | 'llama3';

export interface SpecialToken {
  id: number;
  content: string;
  /** false = an "added" token matched atomically but not a control token (Qwen's <think>, <tool_call>). */
  special: boolean;
}

export interface SyntheticTokenizer {
  family: TokenizerFamily;
  /** Token text by id; regular tokens use GPT-2's byte-to-unicode alphabet. */
  tokens: string[];
  merges: Array<[string, string]>;
  specials: SpecialToken[];
  bosId: number | undefined;
  eosId: number;
  padId: number;
  /** Every id that ends generation (generation_config's eos_token_id list). */
  eosIds: number[];
  addBos: boolean;
  /** tokenizer.ggml.pre: names llama.cpp's pre-tokenizer regex for this family. */
  ggufPre: 'qwen2' | 'llama-bpe';
  /** The same pre-tokenizer as an HF Split regex (Rust regex syntax). */
  splitPattern: string;
}

const QWEN_SPECIALS: Array<[string, boolean]> = [
  ['<|endoftext|>', true], ['<|im_start|>', true], ['<|im_end|>', true],
  ['<tool_call>', false], ['</tool_call>', false], ['<think>', false], ['</think>', false],
];
const LLAMA3_SPECIALS: Array<[string, boolean]> = [
  ['<|begin_of_text|>', true], ['<|end_of_text|>', true], ['<|start_header_id|>', true], ['<|end_header_id|>', true],
  ['<|eot_id|>', true], ['<|eom_id|>', true], ['<|python_tag|>', true],
];

const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
// For learning merges only: the same splits in JS syntax (JS on Node 20 has no inline (?i:...)).
const TRAINING_SPLIT = /'(?:[sStTmMdD]|[rR][eE]|[vV][eE]|[lL][lL])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

export function tokenizerFamilyFor(arch: Architecture): TokenizerFamily {
  return arch === 'qwen2' || arch === 'qwen3' ? 'qwen' : 'llama3';
}

/** GPT-2's reversible map from bytes to printable characters (byte-level BPE's alphabet). */
export function byteToUnicode(): string[] {
  const map: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    map[b] = String.fromCodePoint(printable ? b : next++);
  }
  return map;
}

export function buildTokenizer(family: TokenizerFamily, vocabSize: number): SyntheticTokenizer {
  const specialsList = family === 'qwen' ? QWEN_SPECIALS : LLAMA3_SPECIALS;
  const mergeCount = vocabSize - 256 - specialsList.length;
  if (mergeCount < 0) throw new InvalidArgumentError(`vocab size ${vocabSize} is too small for a byte-level BPE vocabulary`);
  const byteChars = byteToUnicode();
  const tokens = [...byteChars];
  const known = new Set(tokens);
  const merges = learnMerges(byteChars, mergeCount);
  for (const [a, b] of merges) {
    tokens.push(a + b);
    known.add(a + b);
  }
  padWithSyntheticMerges(tokens, merges, known, byteChars, mergeCount);
  const specials = specialsList.map(([content, special], i) => ({ id: tokens.length + i, content, special }));
  for (const s of specials) tokens.push(s.content);
  const idOf = (content: string): number => specials.find((s) => s.content === content)!.id;
  if (family === 'qwen') {
    return {
      family, tokens, merges, specials,
      bosId: undefined, eosId: idOf('<|im_end|>'), padId: idOf('<|endoftext|>'),
      eosIds: [idOf('<|im_end|>'), idOf('<|endoftext|>')], addBos: false,
      ggufPre: 'qwen2', splitPattern: QWEN2_PATTERN,
    };
  }
  return {
    family, tokens, merges, specials,
    bosId: idOf('<|begin_of_text|>'), eosId: idOf('<|eot_id|>'), padId: idOf('<|end_of_text|>'),
    eosIds: [idOf('<|eot_id|>'), idOf('<|end_of_text|>'), idOf('<|eom_id|>')], addBos: true,
    ggufPre: 'llama-bpe', splitPattern: LLAMA3_PATTERN,
  };
}

/** Classic BPE training: repeatedly merge the most frequent adjacent pair (ties: first in code-unit order). */
function learnMerges(byteChars: string[], limit: number): Array<[string, string]> {
  const counts = new Map<string, number>();
  const encoder = new TextEncoder();
  for (const piece of SAMPLE_TEXT.match(TRAINING_SPLIT) ?? []) {
    const word = Array.from(encoder.encode(piece), (b) => byteChars[b]).join('\u0000');
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  let words = [...counts].map(([w, count]) => ({ symbols: w.split('\u0000'), count }));
  const merges: Array<[string, string]> = [];
  while (merges.length < limit) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] + '\u0000' + symbols[i + 1];
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    words = words.map(({ symbols, count }) => ({ symbols: mergePair(symbols, a, b), count }));
    words = words.filter((w) => w.symbols.length > 1);
  }
  return merges;
}

function mergePair(symbols: string[], a: string, b: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
      out.push(a + b);
      i++;
    } else {
      out.push(symbols[i]);
    }
  }
  return out;
}

/**
 * Fills the vocabulary up to its size with valid but meaningless merges: each existing multi-byte token
 * (in id order, including ones added here) extended by one lowercase letter, skipping strings that exist.
 */
function padWithSyntheticMerges(
  tokens: string[],
  merges: Array<[string, string]>,
  known: Set<string>,
  byteChars: string[],
  target: number,
): void {
  const letters = Array.from('etaoinshrdlucmfwypvbgkjqxz', (c) => byteChars[c.charCodeAt(0)]);
  for (let left = merges.length > 0 ? 256 : 0; merges.length < target; left++) {
    const base = tokens[left];
    for (const letter of letters) {
      if (merges.length >= target) break;
      const joined = base + letter;
      if (known.has(joined)) continue;
      merges.push([base, letter]);
      tokens.push(joined);
      known.add(joined);
    }
  }
}
