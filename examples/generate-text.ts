// generateText with a local model: `node dist/examples/generate-text.js <model.gguf|hf-dir|org/name> [prompt]`
// (or PRESSKV_MODEL=<path>). Works with any model presskv loads; chat models get their chat template.
import { generateText } from 'ai';
// In an app: import { presskv } from 'presskv';
import { presskv } from '../index.js';

const modelPath = process.argv[2] ?? process.env.PRESSKV_MODEL;
if (!modelPath) {
  console.error('usage: generate-text <model path or org/name> [prompt]');
  process.exit(2);
}

const { text, usage, finishReason } = await generateText({
  model: presskv(modelPath),
  prompt: process.argv[3] ?? 'Once upon a time',
  maxOutputTokens: 64,
  temperature: 0,
});

console.log(text);
console.error(`finish: ${finishReason}, input ${usage.inputTokens} tokens, output ${usage.outputTokens} tokens`);
presskv.dispose();
