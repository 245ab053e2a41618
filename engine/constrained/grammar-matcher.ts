// Drives a grammar token by token: which tokens keep the text a valid prefix, and, when the token
// budget gets short, only those that still leave room to close the text (so it always parses).
// Assumes every byte a completion needs exists as a token of its own (true for byte-level BPE and
// for SentencePiece with byte fallback); with such a vocabulary a text that fits never runs out.
import { InvalidArgumentError } from '../errors.js';
import { advance, remainingBytes, type State } from './json-automaton.js';
import { stringSplitFor, type StringSplit } from './string-tokens.js';
import { tokenTrieFor, type TrieNode } from './token-trie.js';

export interface Grammar {
  /** Alternative start states (e.g. one per tool). */
  readonly start: State[];
}

export interface AllowedTokens {
  /** Content tokens that keep the text valid and closable within the budget. */
  tokenIds: number[];
  /** The text is complete here: an end-of-sequence token may follow. */
  canEnd: boolean;
  /** The text is complete and nothing may follow: stop without sampling. */
  mustEnd: boolean;
}

/** Upper bound on parallel states; ambiguous schemas beyond it keep the first ones. */
const MAX_STATES = 256;

export class GrammarMatcher {
  private states: State[];
  private readonly trie: TrieNode;
  private stringSplit: StringSplit | undefined;
  private readonly bytes: number[] = [];

  constructor(
    grammar: Grammar,
    private readonly tokenBytes: ReadonlyArray<Uint8Array | null | undefined>,
  ) {
    this.states = grammar.start.slice();
    this.trie = tokenTrieFor(tokenBytes);
  }

  /** Bytes the text needs at least before it may end. */
  get remainingBytes(): number {
    return minRemaining(this.states);
  }

  get canEnd(): boolean {
    return this.remainingBytes === 0;
  }

  /** The accepted text so far. */
  get text(): string {
    return new TextDecoder().decode(Uint8Array.from(this.bytes));
  }

  /**
   * The tokens allowed next when `tokensLeft` tokens (this one included) may still be generated.
   * When no token fits the budget any more, the ones that get closest to the end are returned.
   */
  allowedTokens(tokensLeft: number): AllowedTokens {
    const allowed: number[] = [];
    const closest = { distance: Infinity, tokenIds: [] as number[] };
    if (this.states.length === 1 && insideFreeString(this.states[0]!)) {
      // Inside an unbounded string most of the vocabulary is plain text that keeps the string open and the
      // distance to the end unchanged: take those tokens wholesale and simulate only the others.
      this.stringSplit ??= stringSplitFor(this.tokenBytes);
      const distance = remainingBytes(this.states[0]!);
      if (distance <= tokensLeft - 1) allowed.push(...this.stringSplit.plainIds);
      else closest.distance = distance;
      this.collect(this.stringSplit.otherTrie, this.states, tokensLeft - 1, allowed, closest);
    } else this.collect(this.trie, this.states, tokensLeft - 1, allowed, closest);
    const canEnd = this.canEnd;
    const tokenIds = allowed.length || canEnd ? allowed : closest.tokenIds;
    return { tokenIds, canEnd, mustEnd: canEnd && tokenIds.length === 0 };
  }

  private collect(node: TrieNode, states: State[], budget: number, allowed: number[], closest: { distance: number; tokenIds: number[] }): void {
    for (const [byte, child] of node.children) {
      const next = advanceAll(states, byte);
      if (next.length === 0) continue;
      if (child.tokenIds.length) {
        const distance = minRemaining(next);
        if (distance <= budget) allowed.push(...child.tokenIds);
        else if (distance < closest.distance) {
          closest.distance = distance;
          closest.tokenIds = child.tokenIds.slice();
        } else if (distance === closest.distance) closest.tokenIds.push(...child.tokenIds);
      }
      if (child.children.size) this.collect(child, next, budget, allowed, closest);
    }
  }

  /** Whether `tokenId` keeps the text a valid prefix (ignores the budget). */
  accepts(tokenId: number): boolean {
    const bytes = this.tokenBytes[tokenId];
    if (!bytes || bytes.length === 0) return false;
    let states = this.states;
    for (const b of bytes) {
      states = advanceAll(states, b);
      if (states.length === 0) return false;
    }
    return true;
  }

  /** Appends a token's bytes to the text; throws when they break the grammar. */
  accept(tokenId: number): void {
    const bytes = this.tokenBytes[tokenId];
    if (!bytes || bytes.length === 0) throw new InvalidArgumentError(`Token ${tokenId} has no text and cannot be part of constrained output`);
    let states = this.states;
    for (const b of bytes) {
      states = advanceAll(states, b);
      if (states.length === 0) throw new InvalidArgumentError(`Token ${tokenId} does not continue the constrained text "${this.text}"`);
    }
    this.states = states;
    this.bytes.push(...bytes);
  }
}

/** The top of the stack is the body of a string with no length limit left to enforce. */
function insideFreeString(state: State): boolean {
  const f = state?.frame;
  return f?.t === 'string' && f.phase === 'body' && f.node.maxLength === Infinity && f.chars >= f.node.minLength;
}

function advanceAll(states: State[], byte: number): State[] {
  const out: State[] = [];
  for (const s of states) {
    advance(s, byte, out);
    if (out.length >= MAX_STATES) break;
  }
  return out.length > MAX_STATES ? out.slice(0, MAX_STATES) : out;
}

function minRemaining(states: State[]): number {
  let best = Infinity;
  for (const s of states) best = Math.min(best, remainingBytes(s));
  return best;
}
