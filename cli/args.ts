// Command-line parsing shared by the presskv commands: node:util parseArgs, plus typed number flags.
// Any bad flag or value is a UsageError, which main() prints with the command's usage and exit code 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  constructor(message: string, readonly usage?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What a command writes: whole lines (out/err) or raw text (write, for streamed output). */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  write?: (text: string) => void;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict parseArgs: unknown flags, missing values and stray positionals are usage errors. */
export function parseFlags<T extends Options>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values as {
      [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { multiple: true } ? string[] : string;
    } & { help?: boolean };
  } catch (err) {
    throw new UsageError((err as Error).message, usage);
  }
}

export function requireFlag(value: string | undefined, name: string, usage: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`, usage);
  return value;
}

interface NumberRule {
  min?: number;
  max?: number;
  /** The lower bound itself is not allowed. */
  exclusiveMin?: boolean;
  integer?: boolean;
}

/** Parses a number flag; undefined stays undefined. */
export function numberFlag(value: string | undefined, name: string, usage: string, rule: NumberRule = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? NaN : Number(value);
  const kind = rule.integer ? 'an integer' : 'a number';
  if (!Number.isFinite(n) || (rule.integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be ${kind}, got "${value}"`, usage);
  if (rule.min !== undefined && (rule.exclusiveMin ? n <= rule.min : n < rule.min)) {
    throw new UsageError(`--${name} must be ${rule.exclusiveMin ? 'greater than' : 'at least'} ${rule.min}, got ${value}`, usage);
  }
  if (rule.max !== undefined && n > rule.max) throw new UsageError(`--${name} must be at most ${rule.max}, got ${value}`, usage);
  return n;
}

export function choiceFlag<T extends string>(value: string | undefined, name: string, choices: readonly T[], usage: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got "${value}"`, usage);
  return value as T;
}
