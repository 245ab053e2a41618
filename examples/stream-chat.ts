// A streaming multi-turn chat over HTTP: starts the presskv server in-process, stores a document through
// /v1/contexts, then chats about it with the official `openai` client, printing tokens as they arrive and
// how many prompt tokens each turn read from the stored context.
// `node dist/examples/stream-chat.js <model.gguf|hf-dir|org/name>` (or PRESSKV_MODEL=<path>).
import OpenAI from 'openai';
// In an app: import { startServer } from 'presskv';  (or run `presskv serve --model <path>`)
import { startServer } from '../index.js';

const modelPath = process.argv[2] ?? process.env.PRESSKV_MODEL;
if (!modelPath) {
  console.error('usage: stream-chat <model path or org/name>');
  process.exit(2);
}

const server = await startServer({ model: modelPath, port: 0, load: { threads: 2 } });
const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed-without---api-key' });
const model = (await client.models.list()).data[0]!.id;

const context = await client.post<{ id: string; tokens_before: number; tokens_after: number; bytes: number }>('/contexts', {
  body: {
    content: 'The museum opens at ten. The dinosaur hall is on the first floor; the café is next to the shop. '.repeat(6),
    press: { name: 'knorm', compression_ratio: 0.25 },
    ttl_seconds: 600,
  },
});
console.error(`context ${context.id}: ${context.tokens_before} tokens, ${context.tokens_after} kept, ${context.bytes} bytes`);

const history: OpenAI.ChatCompletionMessageParam[] = [];
for (const question of ['Where is the dinosaur hall?', 'And the café?']) {
  history.push({ role: 'user', content: question });
  console.log(`> ${question}`);
  const stream = await client.chat.completions.create({
    model,
    messages: history,
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 24,
    temperature: 0,
    // presskv's field: answer after the stored context.
    context_id: context.id,
  } as OpenAI.ChatCompletionCreateParamsStreaming);
  let answer = '';
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta.content ?? '';
    answer += delta;
    process.stdout.write(delta);
    usage = chunk.usage ?? usage;
  }
  process.stdout.write('\n');
  console.error(`  prompt ${usage?.prompt_tokens} tokens, ${usage?.prompt_tokens_details?.cached_tokens} cached; ${usage?.completion_tokens} generated`);
  history.push({ role: 'assistant', content: answer });
}
await server.close();
