// The constrained-decoding grammar engine over a plain vocabulary: every walk it allows ends in text
// that parses and matches the schema, within the token budget, and it allows exactly the right tokens.
import { describe, expect, it } from 'vitest';
import { constrainedDecode } from '../engine/constrained/constrained-decode.js';
import { GrammarMatcher } from '../engine/constrained/grammar-matcher.js';
import { jsonGrammar, toolCallGrammar } from '../engine/constrained/grammars.js';
import { compileJsonSchema, minTextLength } from '../engine/constrained/schema-node.js';
import { validateJson } from '../engine/constrained/validate-json.js';
import { InvalidArgumentError } from '../engine/errors.js';

const utf8 = new TextEncoder();
const EOS = 0;

/** Id 0 = EOS (no text), then every printable ASCII byte, UTF-8 pieces, and some multi-character tokens. */
function makeVocabulary(extra: string[] = []): { bytes: (Uint8Array | null)[]; ids: Map<string, number> } {
  const bytes: (Uint8Array | null)[] = [null];
  for (let b = 0x20; b < 0x7f; b++) bytes.push(Uint8Array.of(b));
  bytes.push(Uint8Array.of(0x0a), Uint8Array.of(0x09), Uint8Array.of(0xc3), Uint8Array.of(0xa9), Uint8Array.of(0xe2, 0x82), Uint8Array.of(0xac));
  const words = ['{"', '": ', '", "', '"}', 'name', 'arguments', 'true', 'false', 'null', 'red', 'green', '12', '-3.5', 'é', '€', ', ', '<tool_call>', '</tool_call>', 'city', 'ci', 'ty": "', ...extra];
  for (const w of words) bytes.push(utf8.encode(w));
  const ids = new Map<string, number>();
  bytes.forEach((b, i) => {
    if (b) ids.set(Buffer.from(b).toString('latin1'), i);
  });
  return { bytes, ids };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function randomWalk(grammar: ReturnType<typeof jsonGrammar>, vocab: (Uint8Array | null)[], maxTokens: number, seed: number) {
  const random = rng(seed);
  const matcher = new GrammarMatcher(grammar, vocab);
  return constrainedDecode({
    matcher,
    maxTokens,
    endTokenIds: [EOS],
    // A random "model" that prefers ending only 1 time in 8, so walks wander far.
    pick: (allowed) => {
      const content = allowed.filter((t) => t !== EOS);
      if (allowed.includes(EOS) && (content.length === 0 || random() < 0.125)) return EOS;
      return content[Math.floor(random() * content.length)]!;
    },
  });
}

const SCHEMAS: Record<string, unknown> = {
  weather: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer' } },
    required: ['city', 'unit'],
    additionalProperties: false,
  },
  nested: {
    type: 'object',
    properties: {
      title: { type: 'string', minLength: 2, maxLength: 12 },
      score: { type: 'number' },
      tags: { type: 'array', items: { type: 'string', enum: ['a', 'b'] }, minItems: 1, maxItems: 3 },
      ok: { type: 'boolean' },
      note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      kind: { const: 'fixed' },
      inner: { type: 'object', properties: { x: { type: ['integer', 'null'] } }, required: ['x'], additionalProperties: false },
    },
    required: ['title', 'score', 'tags', 'ok', 'note', 'kind', 'inner'],
    additionalProperties: false,
  },
  optionalOnly: { type: 'object', properties: { a: { type: 'number', minimum: 0 }, b: { type: 'boolean' } }, additionalProperties: false },
  refs: {
    type: 'object',
    properties: { p: { $ref: '#/definitions/point' }, q: { $ref: '#/definitions/point' } },
    required: ['p', 'q'],
    definitions: { point: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } }, required: ['x', 'y'] } },
  },
  list: { type: 'array', items: { type: 'integer' } },
  freeObject: { type: 'object' },
};

describe('JSON schema grammar', () => {
  const { bytes } = makeVocabulary();

  for (const [name, schema] of Object.entries(SCHEMAS)) {
    it(`random walks for "${name}" always end in JSON that matches the schema`, async () => {
      for (let seed = 1; seed <= 25; seed++) {
        const maxTokens = minTextLength(compileJsonSchema(schema)) + (seed % 5) * 15;
        const result = await randomWalk(jsonGrammar(schema), bytes, maxTokens, seed);
        expect(result.tokenIds.length).toBeLessThanOrEqual(maxTokens);
        expect(result.reason, result.text).toBe('complete');
        const value = JSON.parse(result.text);
        expect(validateJson(value, schema), result.text).toBeNull();
      }
    });
  }

  it('without a schema produces a JSON object or array', async () => {
    for (let seed = 1; seed <= 25; seed++) {
      const result = await randomWalk(jsonGrammar(), bytes, 40, seed);
      expect(result.reason, result.text).toBe('complete');
      const value = JSON.parse(result.text);
      expect(typeof value === 'object' && value !== null).toBe(true);
    }
  });

  it('fits the shortest valid text into a budget of exactly its length', async () => {
    const singleBytes = makeVocabulary().bytes.map((b) => (b && b.length === 1 ? b : null));
    for (const schema of [SCHEMAS.weather, SCHEMAS.nested, SCHEMAS.refs]) {
      const budget = minTextLength(compileJsonSchema(schema));
      for (let seed = 1; seed <= 10; seed++) {
        const result = await randomWalk(jsonGrammar(schema), singleBytes, budget, seed);
        expect(result.reason, result.text).toBe('complete');
        expect(result.tokenIds.length).toBe(budget);
        expect(validateJson(JSON.parse(result.text), schema)).toBeNull();
      }
    }
  });

  it('the allowed set equals a token-by-token simulation at every step of random walks', () => {
    const { bytes: vocab } = makeVocabulary(['"a', 'b"', 'x\\n', '"é"', 'abc']);
    for (const schema of [SCHEMAS.nested, SCHEMAS.freeObject, { type: 'string', minLength: 3 }]) {
      for (let seed = 1; seed <= 6; seed++) {
        const random = rng(seed);
        const m = new GrammarMatcher(jsonGrammar(schema), vocab);
        for (let step = 0; step < 40; step++) {
          const { tokenIds, mustEnd } = m.allowedTokens(10_000);
          if (mustEnd) break;
          const brute = vocab.map((_, id) => id).filter((id) => m.accepts(id));
          expect([...tokenIds].sort((a, b) => a - b), m.text).toEqual(brute);
          m.accept(tokenIds[Math.floor(random() * tokenIds.length)]!);
        }
      }
    }
  });

  it('allows exactly the tokens that keep the text a valid prefix', () => {
    const { bytes: vocab, ids } = makeVocabulary();
    const textOf = (list: number[]) => list.map((t) => Buffer.from(vocab[t]!).toString('latin1')).sort();
    const schema = {
      type: 'object',
      properties: { n: { type: 'integer' }, color: { type: 'string', enum: ['red', 'green'] } },
      required: ['n', 'color'],
      additionalProperties: false,
    };
    const m = new GrammarMatcher(jsonGrammar(schema), vocab);
    expect(textOf(m.allowedTokens(100).tokenIds)).toEqual(['{', '{"']);
    for (const piece of ['{"', 'n', '"', ':', ' ']) m.accept(ids.get(piece)!);
    // An integer: digits or a minus sign, no '.', no other value starts.
    expect(textOf(m.allowedTokens(100).tokenIds)).toEqual(['-', '0', '1', '12', '2', '3', '4', '5', '6', '7', '8', '9']);
    m.accept(ids.get('12')!);
    const afterNumber = textOf(m.allowedTokens(100).tokenIds);
    expect(afterNumber).toContain(',');
    expect(afterNumber).toContain('0');
    expect(afterNumber).not.toContain('}'); // "color" is still required
    expect(afterNumber).not.toContain('.');
    for (const piece of [', ', '"', 'c', 'o', 'l', 'o', 'r', '": ', '"']) m.accept(ids.get(piece)!);
    expect(textOf(m.allowedTokens(100).tokenIds)).toEqual(['g', 'green', 'r', 'red']);
    expect(() => m.accept(ids.get('b')!)).toThrow(InvalidArgumentError);
    for (const piece of ['red', '"}']) m.accept(ids.get(piece)!);
    const end = m.allowedTokens(100);
    expect(end).toEqual({ tokenIds: [], canEnd: true, mustEnd: true });
    expect(JSON.parse(m.text)).toEqual({ n: 12, color: 'red' });
  });

  it('keeps multi-byte UTF-8 characters whole inside strings', () => {
    const { bytes: vocab, ids } = makeVocabulary();
    const m = new GrammarMatcher(jsonGrammar({ type: 'string', maxLength: 2 }), vocab);
    m.accept(ids.get('"')!);
    m.accept(ids.get('\xc3')!); // first byte of "é"
    // Only continuation bytes (0x80-0xbf) may follow a lead byte.
    const allowed = m.allowedTokens(100).tokenIds.map((t) => Array.from(vocab[t]!));
    expect(allowed).toEqual([[0xa9], [0xac]]);
    m.accept(ids.get('\xa9')!);
    m.accept(ids.get(utf8.encode('€').reduce((s, b) => s + String.fromCharCode(b), ''))!);
    // Two characters written: only the closing quote is left.
    expect(m.allowedTokens(100).tokenIds.map((t) => Buffer.from(vocab[t]!).toString())).toEqual(['"']);
  });

  it('forces the text closed when the budget runs short', () => {
    const { bytes: vocab, ids } = makeVocabulary();
    const m = new GrammarMatcher(jsonGrammar({ type: 'object', properties: { s: { type: 'string' } }, required: ['s'], additionalProperties: false }), vocab);
    for (const piece of ['{"', 's', '": ', '"', 'a']) m.accept(ids.get(piece)!);
    // `"}` is left: with 2 tokens the next one must close the string ('{"' = one more character, then the quote);
    // with 1 token only '"}' fits.
    expect(m.allowedTokens(2).tokenIds.map((t) => Buffer.from(vocab[t]!).toString()).sort()).toEqual(['"', '"}', '{"']);
    expect(m.allowedTokens(1).tokenIds.map((t) => Buffer.from(vocab[t]!).toString())).toEqual(['"}']);
  });

  it('rejects schemas it cannot constrain with a typed error', () => {
    expect(() => compileJsonSchema({ type: 'object', required: ['x'] })).toThrow(InvalidArgumentError);
    expect(() => compileJsonSchema({ type: 'date' })).toThrow(/Unsupported JSON schema type/);
    expect(() => compileJsonSchema({ $ref: '#' })).toThrow(/Recursive/);
    expect(() => compileJsonSchema({ type: 'array', items: [{ type: 'string' }] })).toThrow(InvalidArgumentError);
    expect(() => compileJsonSchema(false)).toThrow(InvalidArgumentError);
  });
});

describe('tool call grammar', () => {
  const tools = [
    { name: 'weather', inputSchema: SCHEMAS.weather },
    { name: 'add', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'], additionalProperties: false } },
  ];

  it('random walks produce one well-formed call of a known tool with valid arguments', async () => {
    const { bytes } = makeVocabulary();
    const seen = new Set<string>();
    for (let seed = 1; seed <= 30; seed++) {
      const result = await randomWalk(toolCallGrammar(tools), bytes, 120, seed);
      expect(result.reason, result.text).toBe('complete');
      const match = /^<tool_call>\n(.*)\n<\/tool_call>$/s.exec(result.text);
      expect(match, result.text).not.toBeNull();
      const call = JSON.parse(match![1]!);
      expect(Object.keys(call)).toEqual(['name', 'arguments']);
      const tool = tools.find((t) => t.name === call.name)!;
      expect(tool).toBeDefined();
      expect(validateJson(call.arguments, tool.inputSchema)).toBeNull();
      seen.add(call.name);
    }
    expect([...seen].sort()).toEqual(['add', 'weather']);
  });

  it('uses a multi-character token for the opening tag', () => {
    const { bytes, ids } = makeVocabulary();
    const m = new GrammarMatcher(toolCallGrammar(tools), bytes);
    expect(m.allowedTokens(200).tokenIds.sort()).toEqual([ids.get('<')!, ids.get('<tool_call>')!].sort());
  });
});

describe('validateJson', () => {
  it('reports the first violation with its path', () => {
    const schema = SCHEMAS.nested;
    const good = { title: 'ab', score: 1.5, tags: ['a'], ok: true, note: null, kind: 'fixed', inner: { x: 3 } };
    expect(validateJson(good, schema)).toBeNull();
    expect(validateJson({ ...good, title: 'a' }, schema)).toMatch(/\$\.title: shorter than 2/);
    expect(validateJson({ ...good, tags: ['c'] }, schema)).toMatch(/\$\.tags\[0\]: expected one of/);
    expect(validateJson({ ...good, inner: { x: 1.5 } }, schema)).toMatch(/\$\.inner\.x/);
    expect(validateJson({ ...good, extra: 1 }, schema)).toMatch(/unexpected property "extra"/);
    const { ok: _ok, ...missing } = good;
    expect(validateJson(missing, schema)).toMatch(/missing required property "ok"/);
    expect(validateJson(-1, { type: 'number', minimum: 0 })).toMatch(/below the minimum/);
  });
});
