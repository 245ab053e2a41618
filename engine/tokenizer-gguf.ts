// Converts a GGUF-embedded vocabulary into an HF tokenizer.json object, so that one tokenizer
// implementation (@huggingface/tokenizers) serves GGUF files and HF directories alike.
//   - "llama" (SentencePiece): llama.cpp merges adjacent symbols greedily by the score of the merged
//     piece. A BPE model whose merge ranks follow the scores (best first) reproduces that, with
//     byte_fallback for characters outside the vocabulary; the space prefix and ▁ escaping become
//     normalizers, as in HF's own Llama tokenizer.json.
//   - "gpt2" (byte-level BPE): the GGUF carries tokens and merges verbatim; tokenizer.ggml.pre picks
//     the pre-tokenizer regex llama.cpp would use.
import { CorruptModelError, UnsupportedArchitectureError } from './errors.js';
import type { GgufValue } from './gguf.js';

/** llama.cpp's token types (tokenizer.ggml.token_type). */
export enum GgufTokenType {
  UNDEFINED = 0,
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** Pre-tokenizer regexes by tokenizer.ggml.pre (the split patterns of the HF tokenizers they came from). */
export const BPE_PRE_TOKENIZER_PATTERNS: Readonly<Record<string, string>> = {
  qwen2:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  llama3:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};
/** tokenizer.ggml.pre names that select each pattern ("gpt-2" and "default" use the ByteLevel regex). */
const PRE_ALIASES: Readonly<Record<string, string>> = {
  'gpt-2': 'gpt-2',
  default: 'gpt-2',
  qwen2: 'qwen2',
  llama3: 'llama3',
  'llama-bpe': 'llama3',
  smaug: 'llama3',
};
export const SUPPORTED_BPE_PRE_TOKENIZERS = Object.keys(PRE_ALIASES);

export interface GgufTokenizerDefinition {
  /** An HF tokenizer.json object. */
  tokenizerJson: Record<string, unknown>;
  /** The matching tokenizer_config.json object. */
  tokenizerConfig: Record<string, unknown>;
  kind: 'spm' | 'byte-level';
  addBos: boolean;
  addEos: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
  /** Token types as stored (NORMAL when the file has none). */
  tokenTypes: number[];
}

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

function stringArray(metadata: Record<string, GgufValue>, key: string): string[] | undefined {
  const v = metadata[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new CorruptModelError(`GGUF metadata "${key}" should be an array of strings`);
  return v as string[];
}

function numberArray(metadata: Record<string, GgufValue>, key: string, length: number): number[] | undefined {
  const v = metadata[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new CorruptModelError(`GGUF metadata "${key}" should be an array of numbers`);
  if (v.length !== length) throw new CorruptModelError(`GGUF metadata "${key}" has ${v.length} entries for ${length} tokens`);
  return v as number[];
}

function optionalId(metadata: Record<string, GgufValue>, key: string, vocabSize: number): number | undefined {
  const v = metadata[key];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < vocabSize ? v : undefined;
}

function optionalBool(metadata: Record<string, GgufValue>, key: string): boolean | undefined {
  const v = metadata[key];
  return typeof v === 'boolean' ? v : undefined;
}

/** Builds the tokenizer.json equivalent of a GGUF vocabulary (tokenizer.ggml.* metadata). */
export function ggufTokenizerDefinition(metadata: Record<string, GgufValue>): GgufTokenizerDefinition {
  const model = metadata['tokenizer.ggml.model'];
  const tokens = stringArray(metadata, 'tokenizer.ggml.tokens');
  if (typeof model !== 'string' || !tokens) {
    throw new CorruptModelError('GGUF file has no embedded vocabulary (tokenizer.ggml.model / tokenizer.ggml.tokens)');
  }
  const types = numberArray(metadata, 'tokenizer.ggml.token_type', tokens.length) ?? tokens.map(() => GgufTokenType.NORMAL);
  if (model === 'llama') return spmDefinition(metadata, tokens, types);
  if (model === 'gpt2') return byteLevelDefinition(metadata, tokens, types);
  throw new UnsupportedArchitectureError(
    `GGUF tokenizer model "${model}" is not supported; supported: llama (SentencePiece), gpt2 (byte-level BPE)`,
  );
}

/** Piece → first id holding it (a Map: lookups of freshly sliced strings are much cheaper than on a huge object). */
function vocabMap(tokens: string[]): Map<string, number> {
  const map = new Map<string, number>();
  tokens.forEach((t, id) => {
    if (!map.has(t)) map.set(t, id);
  });
  return map;
}

function vocabObject(map: Map<string, number>): Record<string, number> {
  // Object.create(null) so pieces like "constructor" or "__proto__" are ordinary keys.
  const vocab: Record<string, number> = Object.create(null);
  for (const [t, id] of map) vocab[t] = id;
  return vocab;
}

function addedTokens(tokens: string[], types: number[], isAdded: (type: number) => boolean, isSpecial: (type: number) => boolean): AddedTokenJson[] {
  const out: AddedTokenJson[] = [];
  tokens.forEach((content, id) => {
    const type = types[id];
    if (!isAdded(type) || content.length === 0) return;
    out.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: isSpecial(type) });
  });
  return out;
}

function spmDefinition(metadata: Record<string, GgufValue>, tokens: string[], types: number[]): GgufTokenizerDefinition {
  const scores = numberArray(metadata, 'tokenizer.ggml.scores', tokens.length) ?? tokens.map(() => 0);
  const ids = vocabMap(tokens);
  const mergeable = (type: number) => type === GgufTokenType.NORMAL || type === GgufTokenType.USER_DEFINED || type === GgufTokenType.UNDEFINED;

  // Every way of building a piece from two pieces is a merge, ranked by the piece's score (higher
  // first, as llama.cpp's bigram queue picks); ties keep vocabulary order.
  const merges: Array<{ left: string; right: string; score: number; id: number; leftId: number }> = [];
  tokens.forEach((piece, id) => {
    if (!mergeable(types[id]) || ids.get(piece) !== id) return;
    for (let i = 1; i < piece.length; i++) {
      // Split between code points only, never inside a surrogate pair.
      const c = piece.charCodeAt(i);
      if (c >= 0xdc00 && c <= 0xdfff) continue;
      const left = piece.slice(0, i);
      const leftId = ids.get(left);
      if (leftId === undefined || !mergeable(types[leftId])) continue;
      const right = piece.slice(i);
      const rightId = ids.get(right);
      if (rightId === undefined || !mergeable(types[rightId])) continue;
      merges.push({ left, right, score: scores[id], id, leftId });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.id - b.id || a.leftId - b.leftId);

  const addSpacePrefix = optionalBool(metadata, 'tokenizer.ggml.add_space_prefix') ?? true;
  const normalizers: unknown[] = [];
  if (addSpacePrefix) normalizers.push({ type: 'Prepend', prepend: '▁' });
  normalizers.push({ type: 'Replace', pattern: { String: ' ' }, content: '▁' });

  return tokenizerDefinition(metadata, tokens, types, {
    kind: 'spm',
    addBosByDefault: true,
    normalizer: { type: 'Sequence', normalizers },
    preTokenizer: spmWordSplit(tokens, types, mergeable),
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: vocabObject(ids),
      merges: merges.map((m) => [m.left, m.right]),
    },
  });
}

/**
 * Splitting the escaped text into "▁-run + word" chunks changes nothing when no piece has a ▁ after
 * another character (SentencePiece's split_by_whitespace vocabularies): no merge can then cross a chunk
 * boundary. It turns one BPE over the whole text into many short, cacheable ones, which is what makes
 * long documents fast. Vocabularies that break the rule keep the whole-text merge.
 */
function spmWordSplit(tokens: string[], types: number[], mergeable: (type: number) => boolean): Record<string, unknown> | null {
  const crossesWords = tokens.some((piece, id) => mergeable(types[id]) && /[^▁]▁/.test(piece));
  if (crossesWords) return null;
  return { type: 'Split', pattern: { Regex: '▁+[^▁]*|[^▁]+' }, behavior: 'Isolated', invert: false };
}

function byteLevelDefinition(metadata: Record<string, GgufValue>, tokens: string[], types: number[]): GgufTokenizerDefinition {
  const rawMerges = stringArray(metadata, 'tokenizer.ggml.merges') ?? [];
  const merges = rawMerges.map((m, i) => {
    // llama.cpp splits at the first space after the first character (a piece may itself start with one).
    const at = m.indexOf(' ', 1);
    if (at < 0) throw new CorruptModelError(`GGUF merge ${i} ("${m}") is not two pieces separated by a space`);
    return [m.slice(0, at), m.slice(at + 1)];
  });
  const preName = metadata['tokenizer.ggml.pre'];
  const pre = typeof preName === 'string' ? PRE_ALIASES[preName] : 'gpt-2';
  if (pre === undefined) {
    throw new UnsupportedArchitectureError(
      `GGUF pre-tokenizer "${String(preName)}" is not supported; supported: ${SUPPORTED_BPE_PRE_TOKENIZERS.join(', ')}`,
    );
  }
  const pattern = BPE_PRE_TOKENIZER_PATTERNS[pre];
  const preTokenizer =
    pattern === undefined
      ? { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }
      : {
          type: 'Sequence',
          pretokenizers: [
            { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
            { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
          ],
        };
  return tokenizerDefinition(metadata, tokens, types, {
    kind: 'byte-level',
    addBosByDefault: pre === 'llama3',
    normalizer: null,
    preTokenizer,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: pre === 'llama3',
      vocab: vocabObject(vocabMap(tokens)),
      merges,
    },
  });
}

/** What a vocabulary kind decides itself; tokenizerDefinition adds what every GGUF vocabulary shares. */
interface VocabularyParts {
  kind: GgufTokenizerDefinition['kind'];
  /** add_bos_token when the file does not say. */
  addBosByDefault: boolean;
  normalizer: unknown;
  preTokenizer: unknown;
  decoder: unknown;
  /** The BPE model's own fields (after type, dropout, unk_token, continuing_subword_prefix, end_of_word_suffix). */
  model: Record<string, unknown>;
}

function tokenizerDefinition(metadata: Record<string, GgufValue>, tokens: string[], types: number[], parts: VocabularyParts): GgufTokenizerDefinition {
  const unkId = optionalId(metadata, 'tokenizer.ggml.unknown_token_id', tokens.length);
  const bosTokenId = optionalId(metadata, 'tokenizer.ggml.bos_token_id', tokens.length);
  const eosTokenId = optionalId(metadata, 'tokenizer.ggml.eos_token_id', tokens.length);
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(
      tokens,
      types,
      (t) => t === GgufTokenType.CONTROL || t === GgufTokenType.UNKNOWN || t === GgufTokenType.USER_DEFINED,
      (t) => t === GgufTokenType.CONTROL || t === GgufTokenType.UNKNOWN,
    ),
    normalizer: parts.normalizer,
    pre_tokenizer: parts.preTokenizer,
    post_processor: null,
    decoder: parts.decoder,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unkId !== undefined ? tokens[unkId] : null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      ...parts.model,
    },
  };
  return {
    tokenizerJson,
    tokenizerConfig: specialTokenConfig(tokens, bosTokenId, eosTokenId, unkId),
    kind: parts.kind,
    addBos: optionalBool(metadata, 'tokenizer.ggml.add_bos_token') ?? parts.addBosByDefault,
    addEos: optionalBool(metadata, 'tokenizer.ggml.add_eos_token') ?? false,
    bosTokenId,
    eosTokenId,
    tokenTypes: types,
  };
}

function specialTokenConfig(tokens: string[], bos?: number, eos?: number, unk?: number): Record<string, unknown> {
  return {
    bos_token: bos !== undefined ? tokens[bos] : null,
    eos_token: eos !== undefined ? tokens[eos] : null,
    unk_token: unk !== undefined ? tokens[unk] : null,
    clean_up_tokenization_spaces: false,
  };
}
