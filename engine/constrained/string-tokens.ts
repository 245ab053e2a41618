// The vocabulary split for the inside of a JSON string: "plain" tokens (whole UTF-8 characters, no quote,
// no backslash, no control character) can follow any string content and leave it open; the others
// (quotes, escapes, partial characters) need the automaton. Computed once per vocabulary.
import { buildTokenTrie, type TrieNode } from './token-trie.js';

export interface StringSplit {
  plainIds: number[];
  /** Trie of every other token with text. */
  otherTrie: TrieNode;
}

function isPlainStringText(bytes: Uint8Array): boolean {
  let pending = 0;
  for (const b of bytes) {
    if (pending > 0) {
      if (b < 0x80 || b > 0xbf) return false;
      pending--;
    } else if (b === 0x22 || b === 0x5c || b < 0x20) return false;
    else if (b < 0x80) continue;
    else if (b >= 0xc2 && b <= 0xdf) pending = 1;
    else if (b >= 0xe0 && b <= 0xef) pending = 2;
    else if (b >= 0xf0 && b <= 0xf4) pending = 3;
    else return false;
  }
  return pending === 0;
}

const splits = new WeakMap<object, StringSplit>();
export function stringSplitFor(tokenBytes: ReadonlyArray<Uint8Array | null | undefined>): StringSplit {
  let split = splits.get(tokenBytes);
  if (!split) {
    const plainIds: number[] = [];
    const others: (Uint8Array | null)[] = tokenBytes.map((bytes, id) => {
      if (!bytes || bytes.length === 0) return null;
      if (isPlainStringText(bytes)) {
        plainIds.push(id);
        return null;
      }
      return bytes;
    });
    split = { plainIds, otherTrie: buildTokenTrie(others) };
    splits.set(tokenBytes, split);
  }
  return split;
}
