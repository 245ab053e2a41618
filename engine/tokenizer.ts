// Text ⇄ token ids for every model presskv loads, through @huggingface/tokenizers: HF directories use
// their tokenizer.json; GGUF vocabularies are first converted into one (tokenizer-gguf.ts).
import { Tokenizer } from '@huggingface/tokenizers';
import { CorruptModelError, InvalidArgumentError } from './errors.js';
import type { ModelFiles } from './model-files.js';
import { ggufTokenizerDefinition, GgufTokenType } from './tokenizer-gguf.js';

/**
 * 'spm': SentencePiece-style pieces (▁ for spaces, <0xNN> byte tokens); 'byte-level': GPT-2 style
 * byte-to-unicode pieces; 'other': anything else tokenizer.json can describe (decoded per token).
 */
export type TokenizerKind = 'spm' | 'byte-level' | 'other';

export interface EncodeOptions {
  /** Add BOS (and whatever else the model's post-processor adds) when the model adds one. Default false. */
  addSpecialTokens?: boolean;
  /**
   * Match special-token text ("<|im_end|>", "<s>") in the input as those tokens. Default true (what a
   * rendered chat template needs); false tokenizes such text as ordinary characters, like llama.cpp's
   * parse_special=false, so user-supplied text cannot inject control tokens.
   */
  parseSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, chat control tokens) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

export interface TextTokenizer {
  readonly kind: TokenizerKind;
  /** Where the vocabulary came from. */
  readonly source: 'gguf' | 'hf-json';
  /** Number of token ids the tokenizer knows (max id + 1; the model's embedding may be larger). */
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenIds: number[];
  /** Whether encode(..., {addSpecialTokens: true}) puts BOS first. */
  readonly addBos: boolean;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The raw bytes this token contributes to generated text (may be part of a UTF-8 character). */
  tokenBytes(id: number): Uint8Array;
  /** The vocabulary piece of an id ("▁Once", "Ġthe", "<|im_end|>"). */
  tokenPiece(id: number): string;
  /** The id of a vocabulary piece or special token text, if any. */
  tokenId(piece: string): number | undefined;
  isSpecial(id: number): boolean;
}

const utf8 = new TextEncoder();

/** GPT-2's reversible byte → printable-unicode table, inverted (unicode char → byte). */
const UNICODE_TO_BYTE: ReadonlyMap<string, number> = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) map.set(String.fromCharCode(b), b);
    else map.set(String.fromCharCode(256 + extra++), b);
  }
  return map;
})();

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

interface TokenizerSetup {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  source: 'gguf' | 'hf-json';
  kind: TokenizerKind;
  bosTokenId?: number;
  eosTokenIds: number[];
  /** GGUF only: BOS/EOS are added here rather than by a tokenizer.json post-processor. */
  manualSpecials?: { addBos: boolean; addEos: boolean; eosTokenId?: number };
  /** GGUF only: ids of byte tokens (type BYTE), which decode to one raw byte. */
  byteTokenIds?: Set<number>;
  /** HF only: BOS/EOS token texts from tokenizer_config.json, used when generation_config gives no ids. */
  fallbackSpecials?: { bos?: string; eos?: string };
}

class HfTextTokenizer implements TextTokenizer {
  readonly kind: TokenizerKind;
  readonly source: 'gguf' | 'hf-json';
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenIds: number[];
  readonly addBos: boolean;
  private readonly tok: Tokenizer;
  /** Built on first use: the same tokenizer without its special added tokens (parseSpecialTokens: false). */
  private literalTok?: Tokenizer;
  private affixes?: { prefix: number[]; suffix: number[] };
  private readonly setup: TokenizerSetup;
  private readonly pieces: string[] = [];
  private readonly addedIds = new Set<number>();
  private readonly specialIds = new Set<number>();
  private readonly bytesCache: Array<Uint8Array | undefined> = [];
  private readonly manual?: TokenizerSetup['manualSpecials'];
  private readonly byteTokenIds?: Set<number>;
  private readonly cleanUpSpaces: boolean;

  constructor(setup: TokenizerSetup) {
    try {
      this.tok = new Tokenizer(setup.tokenizerJson, setup.tokenizerConfig);
    } catch (err) {
      throw new CorruptModelError(`Invalid tokenizer definition: ${(err as Error).message}`, { cause: err });
    }
    this.setup = setup;
    this.kind = setup.kind;
    this.source = setup.source;
    this.manual = setup.manualSpecials;
    this.byteTokenIds = setup.byteTokenIds;
    this.cleanUpSpaces = setup.tokenizerConfig.clean_up_tokenization_spaces === true;
    for (const [piece, id] of this.tok.get_vocab(true)) if (id !== undefined) this.pieces[id] = piece;
    for (const [id, added] of this.tok.get_added_tokens_decoder()) {
      this.pieces[id] = added.content;
      this.addedIds.add(id);
      if (added.special) this.specialIds.add(id);
    }
    this.vocabSize = this.pieces.length;
    const idOf = (text?: string) => (text === undefined ? undefined : this.tok.token_to_id(text));
    this.bosTokenId = setup.bosTokenId ?? idOf(setup.fallbackSpecials?.bos);
    const fallbackEos = idOf(setup.fallbackSpecials?.eos);
    this.eosTokenIds = setup.eosTokenIds.length ? [...setup.eosTokenIds] : fallbackEos !== undefined ? [fallbackEos] : [];
    const { prefix } = this.specialAffixes();
    this.addBos = this.bosTokenId !== undefined && prefix[0] === this.bosTokenId;
  }

  /**
   * The ids encode() puts around the text when asked for special tokens: BOS/EOS as GGUF metadata
   * says, or whatever the tokenizer.json post-processor adds (found by encoding a probe both ways).
   */
  private specialAffixes(): { prefix: number[]; suffix: number[] } {
    if (!this.affixes) {
      if (this.manual) {
        this.affixes = {
          prefix: this.manual.addBos && this.bosTokenId !== undefined ? [this.bosTokenId] : [],
          suffix: this.manual.addEos && this.manual.eosTokenId !== undefined ? [this.manual.eosTokenId] : [],
        };
      } else {
        const plain: number[] = this.tok.encode('a', { add_special_tokens: false }).ids;
        const wrapped: number[] = this.tok.encode('a', { add_special_tokens: true }).ids;
        const at = wrapped.findIndex((_, i) => plain.every((id, j) => wrapped[i + j] === id));
        const found = at < 0 ? { prefix: [], suffix: [] } : { prefix: wrapped.slice(0, at), suffix: wrapped.slice(at + plain.length) };
        this.affixes = {
          prefix: applyAddFlag(found.prefix, this.setup.tokenizerConfig.add_bos_token, this.bosTokenId, 'start'),
          suffix: applyAddFlag(found.suffix, this.setup.tokenizerConfig.add_eos_token, this.eosTokenIds[0], 'end'),
        };
      }
    }
    return this.affixes;
  }

  private literalTokenizer(): Tokenizer {
    if (!this.literalTok) {
      const added = this.setup.tokenizerJson.added_tokens;
      const kept = Array.isArray(added) ? added.filter((t) => !(t as { special?: boolean }).special) : added;
      this.literalTok = new Tokenizer({ ...this.setup.tokenizerJson, added_tokens: kept }, this.setup.tokenizerConfig);
    }
    return this.literalTok;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new InvalidArgumentError(`encode() needs a string, got ${typeof text}`);
    const tok = options.parseSpecialTokens === false ? this.literalTokenizer() : this.tok;
    const ids = tok.encode(text, { add_special_tokens: false }).ids as Array<number | undefined>;
    if (ids.some((id) => id === undefined)) {
      throw new InvalidArgumentError('Text contains characters the vocabulary cannot represent (no unknown or byte tokens)');
    }
    if (!options.addSpecialTokens) return ids as number[];
    const { prefix, suffix } = this.specialAffixes();
    return [...prefix, ...(ids as number[]), ...suffix];
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) this.checkId(id);
    const known = ids.filter((id) => this.pieces[id] !== undefined);
    if (known.length === 0) return '';
    return this.tok.decode(known, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    let bytes = this.bytesCache[id];
    if (!bytes) {
      bytes = this.computeTokenBytes(id);
      this.bytesCache[id] = bytes;
    }
    return bytes;
  }

  private computeTokenBytes(id: number): Uint8Array {
    const piece = this.pieces[id];
    // An id the vocabulary skips (a gap in tokenizer.json's numbering) stands for no text.
    if (piece === undefined) return new Uint8Array(0);
    if (this.addedIds.has(id)) return utf8.encode(piece);
    if (this.kind === 'spm') {
      const byte = BYTE_PIECE.exec(piece);
      if (byte && (this.byteTokenIds === undefined || this.byteTokenIds.has(id))) return Uint8Array.of(parseInt(byte[1], 16));
      return utf8.encode(piece.replaceAll('▁', ' '));
    }
    if (this.kind === 'byte-level') {
      const out = new Uint8Array(piece.length);
      let n = 0;
      for (const ch of piece) {
        const b = UNICODE_TO_BYTE.get(ch);
        if (b === undefined) return utf8.encode(piece);
        out[n++] = b;
      }
      return out.subarray(0, n);
    }
    return utf8.encode(this.tok.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false }));
  }

  tokenPiece(id: number): string {
    this.checkId(id);
    return this.pieces[id] ?? '';
  }

  tokenId(piece: string): number | undefined {
    return this.tok.token_to_id(piece);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new InvalidArgumentError(`Token id ${String(id)} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
  }
}

/**
 * tokenizer_config.json's add_bos_token / add_eos_token win over tokenizer.json's post-processor, as
 * transformers' Llama-family fast tokenizers rebuild the post-processor from them.
 */
function applyAddFlag(ids: number[], flag: unknown, special: number | undefined, side: 'start' | 'end'): number[] {
  if (typeof flag !== 'boolean' || special === undefined) return ids;
  if (!flag) return ids.filter((id) => id !== special);
  if (ids.includes(special)) return ids;
  return side === 'start' ? [special, ...ids] : [...ids, special];
}

function hfKind(tokenizerJson: Record<string, unknown>): TokenizerKind {
  const types = new Set<string>();
  const collect = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (typeof o.type === 'string') types.add(o.type);
    for (const key of ['decoders', 'pretokenizers', 'normalizers']) {
      if (Array.isArray(o[key])) (o[key] as unknown[]).forEach(collect);
    }
  };
  collect(tokenizerJson.decoder);
  collect(tokenizerJson.pre_tokenizer);
  collect(tokenizerJson.normalizer);
  const model = tokenizerJson.model as Record<string, unknown> | undefined;
  if (types.has('ByteLevel')) return 'byte-level';
  if (types.has('ByteFallback') || types.has('Metaspace') || model?.byte_fallback === true) return 'spm';
  return 'other';
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Record<string, unknown>).content === 'string') {
    return (v as Record<string, unknown>).content as string;
  }
  return undefined;
}

/** Builds the tokenizer of a model from what readModelFiles found. */
export async function loadTokenizer(files: ModelFiles): Promise<TextTokenizer> {
  const src = files.tokenizerSource;
  if (src.kind === 'gguf') {
    const def = ggufTokenizerDefinition(src.metadata);
    const byteTokenIds = new Set<number>();
    def.tokenTypes.forEach((t, id) => {
      if (t === GgufTokenType.BYTE) byteTokenIds.add(id);
    });
    const eos = files.generationConfig.eosTokenIds.length
      ? files.generationConfig.eosTokenIds
      : def.eosTokenId !== undefined
        ? [def.eosTokenId]
        : [];
    return new HfTextTokenizer({
      tokenizerJson: def.tokenizerJson,
      tokenizerConfig: def.tokenizerConfig,
      source: 'gguf',
      kind: def.kind,
      bosTokenId: files.generationConfig.bosTokenId ?? def.bosTokenId,
      eosTokenIds: eos,
      manualSpecials: { addBos: def.addBos, addEos: def.addEos, eosTokenId: def.eosTokenId },
      byteTokenIds,
    });
  }
  const { tokenizerJson, tokenizerConfig } = src;
  return new HfTextTokenizer({
    tokenizerJson,
    tokenizerConfig,
    source: 'hf-json',
    kind: hfKind(tokenizerJson),
    bosTokenId: files.generationConfig.bosTokenId,
    eosTokenIds: files.generationConfig.eosTokenIds,
    fallbackSpecials: { bos: tokenText(tokenizerConfig.bos_token), eos: tokenText(tokenizerConfig.eos_token) },
  });
}
