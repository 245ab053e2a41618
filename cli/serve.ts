// `presskv serve`: the OpenAI-compatible HTTP server (server/serve.ts) over one model. Prints the URL it
// listens on (or one JSON line with --json) and runs until SIGINT/SIGTERM, then closes cleanly.
import { startServer } from '../server/serve.js';
import { choiceFlag, numberFlag, parseFlags, requireFlag, UsageError, type CommandIo, type FlagOptions } from './args.js';
import { DEVICE_FLAG_USAGE, deviceFlag } from './device-flag.js';
import { ProgressRenderer, prefillUpdate, stderrSink } from './progress.js';
import type { PrefillProgress } from '../engine/types.js';

export const SERVE_USAGE = `presskv serve --model <path|id> [options]

  --model <path|id>          .gguf file, HF model directory, or org/name[@revision] (fixed for the server's life:
                             requests name it in "model" but can never choose another)
  --port <n>                 default 8080; 0 picks a free port
  --host <addr>              default 127.0.0.1 (this machine only); 0.0.0.0 to listen on every interface
  --api-key <token>          require "Authorization: Bearer <token>" (default: env PRESSKV_API_KEY if set)
  --cache-dir <dir>          persist /v1/contexts contexts here and load them after a restart (default: memory only)
  --max-context-bytes <n>    KV bytes the stored contexts may hold together (least recently used evicted beyond;
                             default: no limit)
  --max-body-bytes <n>       largest request body (default 8388608)
  --model-name <id>          the id clients send as "model" (default: the file or directory name)
  --threads <n>              worker threads (default: all cores)
  --context-length <n>       context window (default: the model's)
  --kv-dtype f16|f32         KV cache element type (default f16)
  ${DEVICE_FLAG_USAGE}
  --json                     print {"url", "model", ...} as one JSON line once listening (default: a line on stderr)

Routes: POST /v1/chat/completions (stream or not), GET /v1/models, POST|GET /v1/contexts, GET|PATCH|DELETE
/v1/contexts/{id}, GET /health.

Example: presskv serve --model ./stories260K.gguf --port 8080 --cache-dir ./contexts`;

export const SERVE_FLAGS = {
  model: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'api-key': { type: 'string' },
  'cache-dir': { type: 'string' },
  'max-context-bytes': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'model-name': { type: 'string' },
  threads: { type: 'string' },
  'context-length': { type: 'string' },
  'kv-dtype': { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
} satisfies FlagOptions;

export async function runServe(argv: string[], io: CommandIo, until: Promise<unknown> = shutdownSignal()): Promise<number> {
  const u = SERVE_USAGE;
  const flags = parseFlags(argv, SERVE_FLAGS, u);
  const model = requireFlag(flags.model, 'model', u);
  const apiKey = flags['api-key'] ?? (process.env.PRESSKV_API_KEY || undefined);
  if (apiKey !== undefined && apiKey.trim() === '') throw new UsageError('--api-key must not be empty', u);
  if (!flags.json) io.err(`loading ${model}…`);
  const server = await startServer({
    onContextProgress: flags.json ? undefined : contextProgressLog(io),
    model,
    modelName: flags['model-name'],
    port: numberFlag(flags.port, 'port', u, { integer: true, min: 0, max: 65535 }) ?? 8080,
    host: flags.host,
    apiKey,
    cacheDir: flags['cache-dir'],
    maxContextBytes: numberFlag(flags['max-context-bytes'], 'max-context-bytes', u, { integer: true, min: 1 }),
    maxBodyBytes: numberFlag(flags['max-body-bytes'], 'max-body-bytes', u, { integer: true, min: 1 }),
    load: {
      threads: numberFlag(flags.threads, 'threads', u, { integer: true, min: 1 }),
      contextLength: numberFlag(flags['context-length'], 'context-length', u, { integer: true, min: 1 }),
      kvDtype: choiceFlag(flags['kv-dtype'], 'kv-dtype', ['f16', 'f32'] as const, u),
      device: deviceFlag(flags.device, u),
    },
  });
  const modelName = (await (await fetch(`${server.url}/health`)).json()) as { model: string };
  if (flags.json) io.out(JSON.stringify({ url: server.url, port: server.port, host: server.host, model: modelName.model, auth: apiKey !== undefined }));
  else io.err(`presskv serving "${modelName.model}" on ${server.url}/v1${apiKey ? ' (bearer token required)' : ''}; Ctrl-C stops`);
  await until;
  await server.close();
  if (!flags.json) io.err('stopped');
  return 0;
}

/**
 * The server log's lines for stored contexts being prefilled (POST /v1/contexts, a persisted context's first
 * use): one renderer per context, redrawn in place on a terminal, a few plain lines otherwise.
 */
function contextProgressLog(io: CommandIo): (contextId: string, progress: PrefillProgress) => void {
  const running = new Map<string, { renderer: ProgressRenderer; done: number }>();
  return (contextId, progress) => {
    let entry = running.get(contextId);
    // A prefill that did not finish (aborted, failed) left its entry: a new prefill of that id starts over.
    if (!entry || progress.done <= entry.done) {
      entry?.renderer.end();
      entry = { renderer: new ProgressRenderer(stderrSink(io), { label: `context ${contextId} prefill` }), done: 0 };
      running.set(contextId, entry);
    }
    entry.done = progress.done;
    entry.renderer.update(prefillUpdate(progress));
    if (progress.done >= progress.total) running.delete(contextId);
  };
}

function shutdownSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
