// Checks a parsed JSON value against the JSON schema subset presskv constrains with, plus the keywords
// the grammar cannot enforce while generating (numeric bounds, pattern). Returns the first problem
// as a readable path + message, or null when the value conforms.

type Schema = boolean | Record<string, unknown>;

export function validateJson(value: unknown, schema: unknown): string | null {
  return check(value, schema as Schema, schema as Schema, '$', 0);
}

function check(value: unknown, schema: Schema, root: Schema, path: string, depth: number): string | null {
  if (schema === true || schema === undefined) return null;
  if (schema === false) return `${path}: no value is allowed here`;
  if (depth > 64) return `${path}: schema nests too deeply`;
  const s = schema;
  if (typeof s.$ref === 'string') {
    const target = resolve(s.$ref, root);
    if (target === undefined) return `${path}: unresolvable reference ${s.$ref}`;
    const { $ref: _r, ...rest } = s;
    const problem = check(value, target, root, path, depth + 1);
    return problem ?? check(value, rest, root, path, depth + 1);
  }
  if ('const' in s && !deepEqual(value, s.const)) return `${path}: expected ${JSON.stringify(s.const)}`;
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(value, e))) {
    return `${path}: expected one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  }
  if (s.nullable === true && value === null) return null;
  const alternatives = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (Array.isArray(alternatives) && !alternatives.some((alt) => check(value, alt, root, path, depth + 1) === null)) {
    return `${path}: matches none of the allowed alternatives`;
  }
  if (Array.isArray(s.allOf)) {
    for (const sub of s.allOf as Schema[]) {
      const problem = check(value, sub, root, path, depth + 1);
      if (problem) return problem;
    }
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => hasType(value, t))) return `${path}: expected ${types.join(' or ')}, got ${typeName(value)}`;
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (typeof s.minLength === 'number' && length < s.minLength) return `${path}: shorter than ${s.minLength} characters`;
    if (typeof s.maxLength === 'number' && length > s.maxLength) return `${path}: longer than ${s.maxLength} characters`;
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) return `${path}: does not match /${s.pattern}/`;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `${path}: not a finite number`;
    if (typeof s.minimum === 'number' && value < s.minimum) return `${path}: below the minimum ${s.minimum}`;
    if (typeof s.maximum === 'number' && value > s.maximum) return `${path}: above the maximum ${s.maximum}`;
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) return `${path}: not above ${s.exclusiveMinimum}`;
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) return `${path}: not below ${s.exclusiveMaximum}`;
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) return `${path}: fewer than ${s.minItems} items`;
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) return `${path}: more than ${s.maxItems} items`;
    if (s.items !== undefined && !Array.isArray(s.items)) {
      for (let i = 0; i < value.length; i++) {
        const problem = check(value[i], s.items as Schema, root, `${path}[${i}]`, depth + 1);
        if (problem) return problem;
      }
    }
  } else if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const key of Array.isArray(s.required) ? (s.required as string[]) : []) {
      if (!(key in obj)) return `${path}: missing required property "${key}"`;
    }
    for (const [key, v] of Object.entries(obj)) {
      const childPath = `${path}.${key}`;
      if (key in props) {
        const problem = check(v, props[key]!, root, childPath, depth + 1);
        if (problem) return problem;
      } else if (s.additionalProperties === false) {
        return `${path}: unexpected property "${key}"`;
      } else if (typeof s.additionalProperties === 'object') {
        const problem = check(v, s.additionalProperties as Schema, root, childPath, depth + 1);
        if (problem) return problem;
      }
    }
  }
  return null;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return false;
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function resolve(ref: string, root: Schema): Schema | undefined {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let target: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    target = typeof target === 'object' && target !== null ? (target as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  }
  return target as Schema | undefined;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
