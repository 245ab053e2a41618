// The `presskv` command: dispatches to one module per command. Exit codes: 0 ok, 1 error (the typed
// error's message), 2 usage error (bad flag or value, with the command's usage).
import { PressKVError } from '../engine/errors.js';
import { asksForHelp, UsageError, type CommandIo, type FlagOptions } from './args.js';

type Command = (argv: string[], io: CommandIo) => Promise<number>;

/** What main() needs of a command module: its entry point, its usage text (--help) and its flags. */
export interface CommandModule {
  run: Command;
  usage: string;
  flags: FlagOptions;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  generate: {
    summary: 'generate text from a prompt',
    load: async () => import('./generate.js').then((m) => ({ run: m.runGenerate, usage: m.GENERATE_USAGE, flags: m.GENERATE_FLAGS })),
  },
  tokenize: {
    summary: 'show the token ids of a text',
    load: async () => import('./tokenize.js').then((m) => ({ run: m.runTokenize, usage: m.TOKENIZE_USAGE, flags: m.TOKENIZE_FLAGS })),
  },
  info: {
    summary: 'describe a model file or directory (and the CUDA devices)',
    load: async () => import('./info.js').then((m) => ({ run: m.runInfo, usage: m.INFO_USAGE, flags: m.INFO_FLAGS })),
  },
  'make-model': {
    summary: 'write a random-weight model for tests and benchmarks',
    load: async () => import('./make-model.js').then((m) => ({ run: m.runMakeModel, usage: m.MAKE_MODEL_USAGE, flags: m.MAKE_MODEL_FLAGS })),
  },
  bench: {
    summary: 'measure prefill/decode speed beside llama.cpp',
    load: async () => import('./bench.js').then((m) => ({ run: m.runBench, usage: m.BENCH_USAGE, flags: m.BENCH_FLAGS })),
  },
  presses: {
    summary: 'list the KV-cache presses and their options',
    load: async () =>
      import('./presses.js').then((m) => ({ run: m.runPressesCommand, usage: m.PRESSES_USAGE, flags: { ...m.PRESSES_FLAGS, ...m.EVALUATE_FLAGS } })),
  },
  serve: {
    summary: 'serve a model over HTTP (OpenAI-compatible, with /v1/contexts)',
    load: async () => import('./serve.js').then((m) => ({ run: (argv, io) => m.runServe(argv, io), usage: m.SERVE_USAGE, flags: m.SERVE_FLAGS })),
  },
  'bench-context': {
    summary: 'time to first token: stored context vs re-prefill',
    load: async () =>
      import('./bench-context.js').then((m) => ({ run: m.runBenchContext, usage: m.BENCH_CONTEXT_USAGE, flags: m.BENCH_CONTEXT_FLAGS })),
  },
  calibrate: {
    summary: 'compute a press artefact (query stats, Q-filters, Duo head scores) from text',
    load: async () => import('./calibrate.js').then((m) => ({ run: m.runCalibrate, usage: m.CALIBRATE_USAGE, flags: m.CALIBRATE_FLAGS })),
  },
};

export const COMMAND_NAMES = Object.keys(COMMANDS);

/** A command's module by name (tests check every command's --help against its flags). */
export async function loadCommand(name: string): Promise<CommandModule> {
  const command = COMMANDS[name];
  if (!command) throw new Error(`unknown command ${name}`);
  return command.load();
}

export const USAGE = `presskv <command> [options]   (presskv <command> --help for its options)

${Object.entries(COMMANDS)
  .map(([name, c], _, all) => `  ${name.padEnd(Math.max(...all.map(([n]) => n.length)) + 2)}${c.summary}`)
  .join('\n')}`;

const processIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  write: (text) => process.stdout.write(text),
  errWrite: (text) => process.stderr.write(text),
  errIsTTY: process.stderr.isTTY === true,
};

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`presskv: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    const { run, usage } = await command.load();
    // Every command answers --help / -h the same way, here, whatever it parses its flags with.
    if (asksForHelp(rest)) {
      io.out(usage);
      return 0;
    }
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`presskv ${name}: ${err.message}${err.usage ? `\n\n${err.usage}` : ''}`);
      return 2;
    }
    // Commands that call node:util parseArgs directly throw its errors (unknown flag, missing value).
    if (String((err as { code?: unknown })?.code ?? '').startsWith('ERR_PARSE_ARGS')) {
      io.err(`presskv ${name}: ${(err as Error).message}`);
      return 2;
    }
    if (err instanceof PressKVError) {
      io.err(`presskv ${name}: ${err.message}`);
      return 1;
    }
    io.err(`presskv ${name}: ${process.env.PRESSKV_DEBUG ? ((err as Error)?.stack ?? String(err)) : ((err as Error)?.message ?? String(err))}`);
    return 1;
  }
}
