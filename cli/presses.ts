// `presskv presses`: the press catalogue — short name, class, kind and every option with its default.
import { parseArgs } from 'node:util';

import { listPresses, type PressListing } from '../engine/presses/index.js';
import type { CommandIo } from './args.js';

const USAGE = `presskv presses [--json] [--kind scorer|wrapper|decoding|other]

Lists every press: its short name (for --press), kvpress class name, kind and options with defaults
(null = required or unset). A wrapper's inner press goes in --press-options as {"press": {"name": "snapkv"}}.`;

const KINDS = ['scorer', 'wrapper', 'decoding', 'other'] as const;

function showValue(v: unknown): string {
  if (v === null) return '(required/unset)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function table(rows: PressListing[]): string {
  const nameWidth = Math.max(4, ...rows.map((r) => r.name.length));
  const classWidth = Math.max(5, ...rows.map((r) => r.className.length));
  const lines = [`${'NAME'.padEnd(nameWidth)}  ${'CLASS'.padEnd(classWidth)}  ${'KIND'.padEnd(8)}  OPTIONS (default)`];
  for (const r of rows) {
    const options = Object.entries(r.options).map(([k, v]) => `${k}=${showValue(v)}`).join(' ');
    lines.push(`${r.name.padEnd(nameWidth)}  ${r.className.padEnd(classWidth)}  ${r.kind.padEnd(8)}  ${options}`);
  }
  return lines.join('\n');
}

/** Returns the exit code: 0 on success, 2 on a usage error. */
export async function runPressesCommand(argv: string[], io: Pick<CommandIo, 'out' | 'err'>): Promise<number> {
  let values: { json?: boolean; kind?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean', default: false }, kind: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (values.kind !== undefined && !(KINDS as readonly string[]).includes(values.kind)) {
    io.err(`--kind must be one of ${KINDS.join(', ')}, got "${values.kind}"\n${USAGE}`);
    return 2;
  }
  const rows = listPresses().filter((r) => values.kind === undefined || r.kind === values.kind);
  io.out(values.json ? JSON.stringify(rows, null, 2) : table(rows));
  return 0;
}
