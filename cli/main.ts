// The `presskv` command: dispatches to one module per command. Exit codes: 0 ok, 1 error (the typed
// error's message), 2 usage error (bad flag or value, with the command's usage).
import { PressKVError } from '../engine/errors.js';
import { UsageError, type CommandIo } from './args.js';

type Command = (argv: string[], io: CommandIo) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  generate: { summary: 'generate text from a prompt', load: async () => (await import('./generate.js')).runGenerate },
  tokenize: { summary: 'show the token ids of a text', load: async () => (await import('./tokenize.js')).runTokenize },
  info: { summary: 'describe a model file or directory', load: async () => (await import('./info.js')).runInfo },
  'make-model': { summary: 'write a random-weight model for tests and benchmarks', load: async () => (await import('./make-model.js')).runMakeModel },
  bench: { summary: 'measure prefill/decode speed beside llama.cpp', load: async () => (await import('./bench.js')).runBench },
  presses: { summary: 'list the KV-cache presses and their options', load: async () => (await import('./presses.js')).runPressesCommand },
  serve: { summary: 'serve a model over HTTP (OpenAI-compatible, with /v1/contexts)', load: async () => (await import('./serve.js')).runServe },
  'bench-context': { summary: 'time to first token: stored context vs re-prefill', load: async () => (await import('./bench-context.js')).runBenchContext },
  calibrate: { summary: 'compute a press artefact (query stats, Q-filters, Duo head scores) from text', load: async () => (await import('./calibrate.js')).runCalibrate },
};

export const USAGE = `presskv <command> [options]   (presskv <command> --help for its options)

${Object.entries(COMMANDS)
  .map(([name, c], _, all) => `  ${name.padEnd(Math.max(...all.map(([n]) => n.length)) + 2)}${c.summary}`)
  .join('\n')}`;

const processIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  write: (text) => process.stdout.write(text),
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
    return await (await command.load())(rest, io);
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
