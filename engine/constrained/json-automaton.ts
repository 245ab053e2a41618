// A byte-level pushdown automaton for JSON text that matches a compiled schema.
// A state is an immutable stack of frames, so advancing shares structure instead of copying; the
// matcher keeps a small set of states to follow anyOf alternatives (and ambiguous prefixes) in parallel.
// Whitespace: none, except one optional space after ':' and ',' (the way models write JSON), so a
// model cannot spin in whitespace forever. `remainingBytes` is the exact length of the shortest
// completion, which lets the matcher force the text closed before the token budget runs out.
import { minTextLength, pairTextLength, type ObjectProperty, type SchemaNode } from './schema-node.js';

type ObjectNode = Extract<SchemaNode, { kind: 'object' }>;
type ArrayNode = Extract<SchemaNode, { kind: 'array' }>;
type StringNode = Extract<SchemaNode, { kind: 'string' }>;
type NumberNode = Extract<SchemaNode, { kind: 'number' }>;

/** Longest digit runs, so an unconstrained model cannot write numbers JavaScript cannot hold. */
const MAX_INT_DIGITS = 15;
const MAX_FRACTION_DIGITS = 15;
const MAX_EXPONENT_DIGITS = 2;

export type Frame =
  | { t: 'value'; node: SchemaNode; space: boolean }
  | { t: 'literal'; values: Uint8Array[]; pos: number }
  | {
      t: 'string';
      node: StringNode;
      chars: number;
      /** body | esc (after a backslash) | hex (in \uXXXX) | utf8 (inside a multi-byte char) | closed */
      phase: 'body' | 'esc' | 'hex' | 'utf8' | 'closed';
      pending: number;
    }
  | {
      t: 'number';
      node: NumberNode;
      phase: 'sign' | 'zero' | 'int' | 'dot' | 'frac' | 'e' | 'esign' | 'exp';
      digits: number;
    }
  | {
      t: 'object';
      node: ObjectNode;
      phase: 'start' | 'key' | 'colon' | 'afterValue' | 'afterComma' | 'closed';
      used: ReadonlySet<string>;
      /** Phase 'key': indexes of the properties the key written so far can still become; 'colon': the one chosen (-1 = free-form key). */
      candidates: number[];
      pos: number;
      space: boolean;
    }
  | {
      t: 'array';
      node: ArrayNode;
      phase: 'start' | 'afterItem' | 'afterComma' | 'closed';
      count: number;
      space: boolean;
    };

export interface Stack {
  readonly frame: Frame;
  readonly below: Stack | null;
}
/** null = the empty stack: the text is complete and nothing more may follow. */
export type State = Stack | null;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const SPACE = 0x20;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isHex = (b: number) => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const FREE_KEY: StringNode = { kind: 'string', minLength: 0, maxLength: Infinity };

export function push(below: State, frame: Frame): Stack {
  return { frame, below };
}

/** A state that expects one value of `node`, then whatever `below` expects. */
export function expectValue(node: SchemaNode, below: State = null): Stack {
  return push(below, { t: 'value', node, space: false });
}

/** A state that expects exactly `bytes`, then whatever `below` expects. */
export function expectLiteral(bytes: Uint8Array, below: State = null): State {
  return bytes.length === 0 ? below : push(below, { t: 'literal', values: [bytes], pos: 0 });
}

/** Every state reachable by consuming `byte`. */
export function advance(state: State, byte: number, out: State[] = []): State[] {
  if (state === null) return out;
  const { frame, below } = state;
  step(frame, below, byte, out);
  // A finished frame stays on the stack until the next byte shows it is over (a number cannot tell earlier).
  if (isDone(frame)) advance(below, byte, out);
  return out;
}

function isDone(f: Frame): boolean {
  switch (f.t) {
    case 'value':
      return false;
    case 'literal':
      return f.values.some((v) => v.length === f.pos);
    case 'string':
    case 'object':
    case 'array':
      return f.phase === 'closed';
    case 'number':
      return f.phase === 'zero' || f.phase === 'int' || f.phase === 'frac' || f.phase === 'exp';
  }
}

function step(f: Frame, below: State, b: number, out: State[]): void {
  switch (f.t) {
    case 'value':
      if (f.space && b === SPACE) out.push(push(below, { ...f, space: false }));
      else startValue(f.node, below, b, out);
      return;
    case 'literal': {
      const values = f.values.filter((v) => v.length > f.pos && v[f.pos] === b);
      if (values.length) out.push(push(below, { t: 'literal', values, pos: f.pos + 1 }));
      return;
    }
    case 'string':
      stepString(f, below, b, out);
      return;
    case 'number':
      stepNumber(f, below, b, out);
      return;
    case 'object':
      stepObject(f, below, b, out);
      return;
    case 'array':
      stepArray(f, below, b, out);
      return;
  }
}

function startValue(node: SchemaNode, below: State, b: number, out: State[]): void {
  switch (node.kind) {
    case 'anyOf':
      for (const option of node.options) startValue(option, below, b, out);
      return;
    case 'object':
      if (b === 0x7b) {
        out.push(push(below, { t: 'object', node, phase: 'start', used: new Set(), candidates: [], pos: 0, space: false }));
      }
      return;
    case 'array':
      if (b === 0x5b) out.push(push(below, { t: 'array', node, phase: 'start', count: 0, space: false }));
      return;
    case 'string':
      if (b === QUOTE) out.push(push(below, { t: 'string', node, chars: 0, phase: 'body', pending: 0 }));
      return;
    case 'number':
      if (b === 0x2d && !node.nonNegative) out.push(push(below, { t: 'number', node, phase: 'sign', digits: 0 }));
      else if (b === 0x30) out.push(push(below, { t: 'number', node, phase: 'zero', digits: 1 }));
      else if (isDigit(b)) out.push(push(below, { t: 'number', node, phase: 'int', digits: 1 }));
      return;
    case 'literals':
      step({ t: 'literal', values: node.values, pos: 0 }, below, b, out);
      return;
  }
}

function stepString(f: Extract<Frame, { t: 'string' }>, below: State, b: number, out: State[]): void {
  const room = f.chars < f.node.maxLength;
  const next = (patch: Partial<Extract<Frame, { t: 'string' }>>) => out.push(push(below, { ...f, ...patch }));
  switch (f.phase) {
    case 'closed':
      return;
    case 'body':
      if (b === QUOTE) {
        if (f.chars >= f.node.minLength) next({ phase: 'closed' });
      } else if (!room || b < 0x20) {
        // JSON forbids raw control characters; a full string only accepts its closing quote.
      } else if (b === BACKSLASH) next({ phase: 'esc' });
      else if (b < 0x80) next({ chars: f.chars + 1 });
      else if (b >= 0xc2 && b <= 0xdf) next({ phase: 'utf8', pending: 1 });
      else if (b >= 0xe0 && b <= 0xef) next({ phase: 'utf8', pending: 2 });
      else if (b >= 0xf0 && b <= 0xf4) next({ phase: 'utf8', pending: 3 });
      return;
    case 'esc':
      if (b === 0x75) next({ phase: 'hex', pending: 4 });
      else if ('"\\/bfnrt'.includes(String.fromCharCode(b))) next({ phase: 'body', chars: f.chars + 1 });
      return;
    case 'hex':
      if (isHex(b)) next(f.pending === 1 ? { phase: 'body', pending: 0, chars: f.chars + 1 } : { pending: f.pending - 1 });
      return;
    case 'utf8':
      if (b >= 0x80 && b <= 0xbf) next(f.pending === 1 ? { phase: 'body', pending: 0, chars: f.chars + 1 } : { pending: f.pending - 1 });
      return;
  }
}

function stepNumber(f: Extract<Frame, { t: 'number' }>, below: State, b: number, out: State[]): void {
  const to = (phase: Extract<Frame, { t: 'number' }>['phase'], digits: number) =>
    out.push(push(below, { t: 'number', node: f.node, phase, digits }));
  const fractional = !f.node.integer;
  const exponent = fractional && (b === 0x65 || b === 0x45);
  switch (f.phase) {
    case 'sign':
      if (b === 0x30) to('zero', 1);
      else if (isDigit(b)) to('int', 1);
      return;
    case 'zero':
      if (fractional && b === 0x2e) to('dot', 0);
      else if (exponent) to('e', 0);
      return;
    case 'int':
      if (isDigit(b) && f.digits < MAX_INT_DIGITS) to('int', f.digits + 1);
      else if (fractional && b === 0x2e) to('dot', 0);
      else if (exponent) to('e', 0);
      return;
    case 'dot':
      if (isDigit(b)) to('frac', 1);
      return;
    case 'frac':
      if (isDigit(b) && f.digits < MAX_FRACTION_DIGITS) to('frac', f.digits + 1);
      else if (exponent) to('e', 0);
      return;
    case 'e':
      if (b === 0x2b || b === 0x2d) to('esign', 0);
      else if (isDigit(b)) to('exp', 1);
      return;
    case 'esign':
      if (isDigit(b)) to('exp', 1);
      return;
    case 'exp':
      if (isDigit(b) && f.digits < MAX_EXPONENT_DIGITS) to('exp', f.digits + 1);
      return;
  }
}

function availableProperties(f: Extract<Frame, { t: 'object' }>): number[] {
  const out: number[] = [];
  f.node.properties.forEach((p, i) => {
    if (!f.used.has(p.key)) out.push(i);
  });
  return out;
}

function requiredLeft(f: Extract<Frame, { t: 'object' }>, except?: string): ObjectProperty[] {
  return f.node.properties.filter((p) => f.node.required.has(p.key) && !f.used.has(p.key) && p.key !== except);
}

function stepObject(f: Extract<Frame, { t: 'object' }>, below: State, b: number, out: State[]): void {
  const next = (patch: Partial<Extract<Frame, { t: 'object' }>>) => push(below, { ...f, ...patch });
  const free = f.node.additional !== null;
  const canClose = requiredLeft(f).length === 0;
  switch (f.phase) {
    case 'closed':
      return;
    case 'afterComma':
      if (f.space && b === SPACE) {
        out.push(next({ space: false }));
        return;
      }
    // falls through: after ',' (and its optional space) comes a key, as after '{'
    case 'start':
      if (b === QUOTE) {
        if (free) out.push(push(next({ phase: 'colon', candidates: [-1], pos: 0 }), { t: 'string', node: FREE_KEY, chars: 0, phase: 'body', pending: 0 }));
        else {
          const candidates = availableProperties(f);
          if (candidates.length) out.push(next({ phase: 'key', candidates, pos: 0 }));
        }
      } else if (b === 0x7d && f.phase === 'start' && canClose) out.push(next({ phase: 'closed' }));
      return;
    case 'key': {
      if (b === QUOTE) {
        const chosen = f.candidates.find((i) => f.node.properties[i]!.keyBytes.length === f.pos);
        if (chosen !== undefined) out.push(next({ phase: 'colon', candidates: [chosen], pos: 0 }));
        return;
      }
      const candidates = f.candidates.filter((i) => f.node.properties[i]!.keyBytes[f.pos] === b);
      if (candidates.length) out.push(next({ candidates, pos: f.pos + 1 }));
      return;
    }
    case 'colon': {
      if (b !== COLON) return;
      const index = f.candidates[0]!;
      const property = index >= 0 ? f.node.properties[index]! : null;
      const used = property ? new Set([...f.used, property.key]) : f.used;
      const parent = next({ phase: 'afterValue', used, candidates: [], pos: 0 });
      out.push(push(parent, { t: 'value', node: property ? property.value : f.node.additional!, space: true }));
      return;
    }
    case 'afterValue':
      if (b === COMMA && (free || availableProperties(f).length > 0)) out.push(next({ phase: 'afterComma', space: true }));
      else if (b === 0x7d && canClose) out.push(next({ phase: 'closed' }));
      return;
  }
}

function stepArray(f: Extract<Frame, { t: 'array' }>, below: State, b: number, out: State[]): void {
  const { minItems, maxItems, items } = f.node;
  const startItem = () => {
    const parent = push(below, { ...f, phase: 'afterItem', count: f.count + 1, space: false });
    startValue(items, parent, b, out);
  };
  switch (f.phase) {
    case 'closed':
      return;
    case 'start':
      if (b === 0x5d) {
        if (minItems === 0) out.push(push(below, { ...f, phase: 'closed' }));
      } else if (maxItems > 0) startItem();
      return;
    case 'afterItem':
      if (b === COMMA && f.count < maxItems) out.push(push(below, { ...f, phase: 'afterComma', space: true }));
      else if (b === 0x5d && f.count >= minItems) out.push(push(below, { ...f, phase: 'closed' }));
      return;
    case 'afterComma':
      if (f.space && b === SPACE) out.push(push(below, { ...f, space: false }));
      else startItem();
      return;
  }
}

/** Exact length in bytes of the shortest text that completes the state (0 = it may end here). */
export function remainingBytes(state: State): number {
  let total = 0;
  for (let s = state; s !== null; s = s.below) total += frameRemaining(s.frame);
  return total;
}

function frameRemaining(f: Frame): number {
  switch (f.t) {
    case 'value':
      return minTextLength(f.node);
    case 'literal': {
      let best = Infinity;
      for (const v of f.values) if (v.length >= f.pos) best = Math.min(best, v.length - f.pos);
      return best;
    }
    case 'string': {
      const closeAfter = (chars: number) => Math.max(0, f.node.minLength - chars) + 1;
      switch (f.phase) {
        case 'closed':
          return 0;
        case 'body':
          return closeAfter(f.chars);
        case 'esc':
          return 1 + closeAfter(f.chars + 1);
        case 'hex':
        case 'utf8':
          return f.pending + closeAfter(f.chars + 1);
      }
    }
    // eslint-disable-next-line no-fallthrough
    case 'number':
      return f.phase === 'sign' || f.phase === 'dot' || f.phase === 'e' || f.phase === 'esign' ? 1 : 0;
    case 'object':
      return objectRemaining(f);
    case 'array': {
      const { minItems, items } = f.node;
      const itemLength = minTextLength(items);
      const need = Math.max(0, minItems - f.count);
      switch (f.phase) {
        case 'closed':
          return 0;
        case 'start':
          return minItems === 0 ? 1 : need * itemLength + (need - 1) + 1;
        case 'afterItem':
          return need * (1 + itemLength) + 1;
        case 'afterComma': {
          const n = Math.max(1, need);
          return n * itemLength + (n - 1) + 1;
        }
      }
    }
  }
  return 0;
}

function objectRemaining(f: Extract<Frame, { t: 'object' }>): number {
  // ", pair" for every required property still missing, then '}'.
  const afterValue = (left: ObjectProperty[]) => left.reduce((sum, p) => sum + 1 + pairTextLength(p), 0) + 1;
  const props = f.node.properties;
  const freePair = () => 3 + minTextLength(f.node.additional!);
  switch (f.phase) {
    case 'closed':
      return 0;
    case 'afterValue':
      return afterValue(requiredLeft(f));
    case 'start':
    case 'afterComma': {
      const left = requiredLeft(f);
      if (left.length) return afterValue(left) - 1;
      if (f.phase === 'start') return 1;
      const cheapest = f.node.additional ? freePair() : Math.min(...availableProperties(f).map((i) => pairTextLength(props[i]!)));
      return cheapest + 1;
    }
    case 'key': {
      let best = Infinity;
      for (const i of f.candidates) {
        const p = props[i]!;
        best = Math.min(best, p.keyBytes.length - f.pos + 2 + minTextLength(p.value) + afterValue(requiredLeft(f, p.key)));
      }
      return best;
    }
    case 'colon': {
      const index = f.candidates[0]!;
      if (index < 0) return 1 + minTextLength(f.node.additional!) + afterValue(requiredLeft(f));
      const p = props[index]!;
      return 1 + minTextLength(p.value) + afterValue(requiredLeft(f, p.key));
    }
  }
}
