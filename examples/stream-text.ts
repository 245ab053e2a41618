// streamText with a local model, printing tokens as they are generated:
// `node dist/examples/stream-text.js <model.gguf|hf-dir|org/name> [prompt]` (or PRESSKV_MODEL=<path>).
import { streamText } from 'ai';
// In an app: import { presskv } from 'presskv';
import { presskv } from '../index.js';

const modelPath = process.argv[2] ?? process.env.PRESSKV_MODEL;
if (!modelPath) {
  console.error('usage: stream-text <model path or org/name> [prompt]');
  process.exit(2);
}

const result = streamText({
  model: presskv(modelPath),
  prompt: process.argv[3] ?? 'Once upon a time',
  maxOutputTokens: 64,
  temperature: 0,
});

for await (const delta of result.textStream) process.stdout.write(delta);
process.stdout.write('\n');
const usage = await result.usage;
console.error(`finish: ${await result.finishReason}, output ${usage.outputTokens} tokens`);
presskv.dispose();
