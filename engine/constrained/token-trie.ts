// The vocabulary as a byte trie: tokens that share a prefix share the automaton work for it, so
// finding every allowed token costs one walk instead of one simulation per token.

export interface TrieNode {
  children: Map<number, TrieNode>;
  /** Ids of the tokens whose bytes end exactly here. */
  tokenIds: number[];
}

/**
 * `tokenBytes[id]` is the UTF-8 (or raw byte) string a token stands for; null/empty entries (special
 * and control tokens) are left out, so they can never appear inside constrained text.
 */
export function buildTokenTrie(tokenBytes: ReadonlyArray<Uint8Array | null | undefined>): TrieNode {
  const root: TrieNode = { children: new Map(), tokenIds: [] };
  tokenBytes.forEach((bytes, id) => {
    if (!bytes || bytes.length === 0) return;
    let node = root;
    for (const b of bytes) {
      let child = node.children.get(b);
      if (!child) {
        child = { children: new Map(), tokenIds: [] };
        node.children.set(b, child);
      }
      node = child;
    }
    node.tokenIds.push(id);
  });
  return root;
}

const tries = new WeakMap<object, TrieNode>();
/** One trie per vocabulary array, built on first use. */
export function tokenTrieFor(tokenBytes: ReadonlyArray<Uint8Array | null | undefined>): TrieNode {
  let trie = tries.get(tokenBytes);
  if (!trie) {
    trie = buildTokenTrie(tokenBytes);
    tries.set(tokenBytes, trie);
  }
  return trie;
}
