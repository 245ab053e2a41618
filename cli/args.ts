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
  /** Raw text to stderr, and whether stderr is a terminal: progress redraws one line there (cli/progress.ts). */
  errWrite?: (text: string) => void;
  errIsTTY?: boolean;
}

/** A command's flags, as node:util parseArgs takes them (each command exports its own, for --help's test). */
export type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/**
 * Strict parseArgs: unknown flags, missing values and stray positionals are usage errors. (--help / -h never
 * reach here: main() answers them with the command's usage before the command runs.)
 */
export function parseFlags<T extends FlagOptions>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: attachNegativeNumbers(argv, options), options, strict: true, allowPositionals: false }).values as {
      [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { multiple: true } ? string[] : string;
    };
  } catch (err) {
    throw new UsageError((err as Error).message, usage);
  }
}

/** --help or -h anywhere before a `--` (a flag's value that starts with a dash must be given as --flag=value). */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * parseArgs reads `--max-tokens -5` as a flag missing its value ("argument is ambiguous"), which hides the
 * real mistake. A negative number right after a flag that takes a value is that flag's value: joined as
 * `--max-tokens=-5`, it reaches the flag's own range check and its message.
 */
export function attachNegativeNumbers(argv: readonly string[], options: FlagOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const takesValue = arg.startsWith('--') && !arg.includes('=') && options[arg.slice(2)]?.type === 'string';
    if (takesValue && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
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
    // One sentence with the whole rule, e.g. "--max-tokens must be an integer >= 1, got -5".
    const bound = `${rule.exclusiveMin ? '>' : '>='} ${rule.min}`;
    throw new UsageError(`--${name} must be ${rule.integer ? `an integer ${bound}` : `${bound}`}, got ${value}`, usage);
  }
  if (rule.max !== undefined && n > rule.max) throw new UsageError(`--${name} must be at most ${rule.max}, got ${value}`, usage);
  return n;
}

export function choiceFlag<T extends string>(value: string | undefined, name: string, choices: readonly T[], usage: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got "${value}"`, usage);
  return value as T;
}
