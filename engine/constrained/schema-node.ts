// A JSON schema compiled into the few shapes the byte-level JSON automaton understands.
// Supported: object (properties, required, additionalProperties), array (items, minItems, maxItems),
// string (minLength, maxLength, enum), number, integer, boolean, null, const, enum, anyOf/oneOf,
// type lists, `nullable`, local $ref (#/definitions, #/$defs). Keywords the grammar cannot enforce
// (pattern, format, numeric ranges other than a non-negative minimum) are checked afterwards by
// validate-json.ts, so a violation is reported rather than silently returned.
import { InvalidArgumentError } from '../errors.js';

export interface ObjectProperty {
  key: string;
  /** The key as it appears between the quotes of the JSON text (escaped, UTF-8). */
  keyBytes: Uint8Array;
  value: SchemaNode;
}

export type SchemaNode =
  | {
      kind: 'object';
      properties: ObjectProperty[];
      required: ReadonlySet<string>;
      /** Schema of keys outside `properties`; only used when `properties` is empty (free-form objects). */
      additional: SchemaNode | null;
    }
  | { kind: 'array'; items: SchemaNode; minItems: number; maxItems: number }
  | { kind: 'string'; minLength: number; maxLength: number }
  | { kind: 'number'; integer: boolean; nonNegative: boolean }
  /** A fixed set of JSON texts (const, enum, true/false, null). */
  | { kind: 'literals'; values: Uint8Array[] }
  | { kind: 'anyOf'; options: SchemaNode[] };

const utf8 = new TextEncoder();
/** Nesting depth of schema-less ("any JSON") values: deeper levels only hold scalars, so output stays bounded. */
const ANY_MAX_DEPTH = 3;
const MAX_REF_DEPTH = 16;

type JsonSchema = boolean | Record<string, unknown>;

export function literalNode(values: unknown[]): SchemaNode {
  return { kind: 'literals', values: values.map((v) => utf8.encode(JSON.stringify(v))) };
}

const anyByDepth = new Map<number, SchemaNode>();
/** Any JSON value, nested at most ANY_MAX_DEPTH levels. */
export function anyJsonNode(depth = 0): SchemaNode {
  const cached = anyByDepth.get(depth);
  if (cached) return cached;
  const scalars: SchemaNode[] = [
    { kind: 'string', minLength: 0, maxLength: Infinity },
    { kind: 'number', integer: false, nonNegative: false },
    literalNode([true, false, null]),
  ];
  const node: SchemaNode =
    depth >= ANY_MAX_DEPTH
      ? { kind: 'anyOf', options: scalars }
      : {
          kind: 'anyOf',
          options: [
            { kind: 'object', properties: [], required: new Set(), additional: anyJsonNode(depth + 1) },
            { kind: 'array', items: anyJsonNode(depth + 1), minItems: 0, maxItems: Infinity },
            ...scalars,
          ],
        };
  anyByDepth.set(depth, node);
  return node;
}

/** A JSON object or array of any content: what "JSON mode" without a schema produces. */
export function anyJsonContainerNode(): SchemaNode {
  const any = anyJsonNode(0);
  if (any.kind !== 'anyOf') throw new Error('unreachable');
  return { kind: 'anyOf', options: any.options.slice(0, 2) };
}

export function compileJsonSchema(schema: unknown): SchemaNode {
  if (schema === undefined) return anyJsonNode();
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
    throw new InvalidArgumentError('A JSON schema must be an object or a boolean');
  }
  return compile(schema as JsonSchema, schema as JsonSchema, 0, 0);
}

function compile(schema: JsonSchema, root: JsonSchema, depth: number, refDepth: number): SchemaNode {
  if (schema === true) return anyJsonNode(depth);
  if (schema === false) throw new InvalidArgumentError('The JSON schema `false` accepts no value');
  const s = schema;

  if (typeof s.$ref === 'string') {
    if (refDepth >= MAX_REF_DEPTH) {
      throw new InvalidArgumentError(`Recursive JSON schema references are not supported (${s.$ref})`);
    }
    const { $ref, ...rest } = s;
    const target = resolveRef($ref as string, root);
    const merged = Object.keys(rest).length ? { ...(target as object), ...rest } : target;
    return compile(merged as JsonSchema, root, depth, refDepth + 1);
  }
  if ('const' in s) return literalNode([s.const]);
  if (Array.isArray(s.enum)) {
    if (s.enum.length === 0) throw new InvalidArgumentError('A JSON schema `enum` must list at least one value');
    return literalNode(s.enum);
  }
  if (s.nullable === true) {
    const { nullable: _n, ...rest } = s;
    return anyOf([compile(rest, root, depth, refDepth), literalNode([null])]);
  }
  const alternatives = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(alternatives)) {
    const { anyOf: _a, oneOf: _o, ...rest } = s;
    // Sibling keywords (e.g. a shared `description`) apply to every alternative.
    return anyOf(alternatives.map((alt) => compile(mergeSiblings(rest, alt), root, depth, refDepth)));
  }
  if (Array.isArray(s.allOf)) {
    if (s.allOf.length !== 1) throw new InvalidArgumentError('JSON schema `allOf` with several schemas is not supported');
    const { allOf, ...rest } = s;
    return compile(mergeSiblings(rest, allOf[0] as JsonSchema), root, depth, refDepth);
  }
  if (Array.isArray(s.type)) {
    if (s.type.length === 0) throw new InvalidArgumentError('A JSON schema `type` list must not be empty');
    return anyOf(s.type.map((t) => compile({ ...s, type: t }, root, depth, refDepth)));
  }

  const type = s.type ?? inferType(s);
  switch (type) {
    case undefined:
      return anyJsonNode(depth);
    case 'object':
      return compileObject(s, root, depth, refDepth);
    case 'array': {
      if (Array.isArray(s.items)) throw new InvalidArgumentError('Tuple-style JSON schema `items` arrays are not supported');
      const items = s.items === undefined ? anyJsonNode(depth + 1) : compile(s.items as JsonSchema, root, depth + 1, refDepth);
      const minItems = nonNegativeInt(s.minItems, 0, 'minItems');
      const maxItems = nonNegativeInt(s.maxItems, Infinity, 'maxItems');
      if (maxItems < minItems) throw new InvalidArgumentError('JSON schema maxItems is smaller than minItems');
      return { kind: 'array', items, minItems, maxItems };
    }
    case 'string': {
      const minLength = nonNegativeInt(s.minLength, 0, 'minLength');
      const maxLength = nonNegativeInt(s.maxLength, Infinity, 'maxLength');
      if (maxLength < minLength) throw new InvalidArgumentError('JSON schema maxLength is smaller than minLength');
      return { kind: 'string', minLength, maxLength };
    }
    case 'number':
    case 'integer': {
      const min = typeof s.minimum === 'number' ? s.minimum : typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : undefined;
      return { kind: 'number', integer: type === 'integer', nonNegative: min !== undefined && min >= 0 };
    }
    case 'boolean':
      return literalNode([true, false]);
    case 'null':
      return literalNode([null]);
    default:
      throw new InvalidArgumentError(`Unsupported JSON schema type: ${JSON.stringify(type)}`);
  }
}

function compileObject(s: Record<string, unknown>, root: JsonSchema, depth: number, refDepth: number): SchemaNode {
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  if (typeof props !== 'object' || Array.isArray(props)) {
    throw new InvalidArgumentError('JSON schema `properties` must be an object');
  }
  const properties: ObjectProperty[] = Object.entries(props).map(([key, value]) => ({
    key,
    keyBytes: utf8.encode(JSON.stringify(key).slice(1, -1)),
    value: compile(value, root, depth + 1, refDepth),
  }));
  const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
  for (const key of required) {
    if (!(key in props)) {
      throw new InvalidArgumentError(`JSON schema requires property "${key}" but does not describe it in \`properties\``);
    }
  }
  let additional: SchemaNode | null = null;
  if (properties.length === 0 && s.additionalProperties !== false) {
    additional =
      typeof s.additionalProperties === 'object' && s.additionalProperties !== null
        ? compile(s.additionalProperties as JsonSchema, root, depth + 1, refDepth)
        : anyJsonNode(depth + 1);
  }
  return { kind: 'object', properties, required, additional };
}

function inferType(s: Record<string, unknown>): string | undefined {
  if ('properties' in s || 'additionalProperties' in s || 'required' in s) return 'object';
  if ('items' in s) return 'array';
  return undefined;
}

function mergeSiblings(rest: Record<string, unknown>, alt: JsonSchema): JsonSchema {
  if (typeof alt === 'boolean') return alt;
  const meaningful = Object.keys(rest).filter((k) => !['description', 'title', 'default', '$schema', 'examples'].includes(k));
  return meaningful.length ? { ...rest, ...alt } : alt;
}

function anyOf(options: SchemaNode[]): SchemaNode {
  return options.length === 1 ? options[0]! : { kind: 'anyOf', options };
}

function resolveRef(ref: string, root: JsonSchema): JsonSchema {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) throw new InvalidArgumentError(`Only local JSON schema references are supported, got ${ref}`);
  let target: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    target = typeof target === 'object' && target !== null ? (target as Record<string, unknown>)[part] : undefined;
  }
  if (target === undefined) throw new InvalidArgumentError(`JSON schema reference ${ref} points at nothing`);
  return target as JsonSchema;
}

function nonNegativeInt(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError(`JSON schema ${name} must be a non-negative integer`);
  }
  return value;
}

const minLengths = new WeakMap<SchemaNode, number>();
/** The fewest bytes of JSON text that satisfy the node (the automaton never emits whitespace it need not). */
export function minTextLength(node: SchemaNode): number {
  const cached = minLengths.get(node);
  if (cached !== undefined) return cached;
  let n: number;
  switch (node.kind) {
    case 'object': {
      const req = node.properties.filter((p) => node.required.has(p.key));
      n = 2 + req.reduce((sum, p) => sum + pairTextLength(p), 0) + Math.max(0, req.length - 1);
      break;
    }
    case 'array':
      n = 2 + node.minItems * minTextLength(node.items) + Math.max(0, node.minItems - 1);
      break;
    case 'string':
      n = 2 + node.minLength;
      break;
    case 'number':
      n = 1;
      break;
    case 'literals':
      n = Math.min(...node.values.map((v) => v.length));
      break;
    case 'anyOf':
      n = Math.min(...node.options.map(minTextLength));
      break;
  }
  minLengths.set(node, n);
  return n;
}

/** `"key":value` at its shortest. */
export function pairTextLength(p: ObjectProperty): number {
  return p.keyBytes.length + 3 + minTextLength(p.value);
}
