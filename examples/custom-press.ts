// A press whose scorer is written in TypeScript, used through the AI SDK. The scorer gets, for each layer, the
// cached keys / values with their positions and the window's queries as typed arrays, and returns a score per
// (kv-head, token): higher = keep. This one keeps what the last queries attend to (their mean dot product
// with each key) and always keeps the first 4 tokens (attention sinks). pressMiddleware compresses the
// context part of each prompt once — every question on the same context reuses the compressed cache — and
// never the question.
// `node dist/examples/custom-press.js <model.gguf|hf-dir|org/name>` (or PRESSKV_MODEL=<path>).
import { generateText, streamText, wrapLanguageModel } from 'ai';
// In an app: import { ... } from 'presskv';
import { createPressKV, CustomScorerPress, pressMiddleware, type CustomScorerLayer } from '../index.js';

const modelPath = process.argv[2] ?? process.env.PRESSKV_MODEL;
if (!modelPath) {
  console.error('usage: custom-press <model path or org/name>');
  process.exit(2);
}

let scoredLayers = 0;
function queryAttention(layer: CustomScorerLayer): Float32Array {
  scoredLayers++;
  const { nKvHeads, nHeads, n, headDim, windowSize, keys, positions, windowQueries } = layer;
  const group = nHeads / nKvHeads; // query heads sharing one kv-head
  const scores = new Float32Array(nKvHeads * n);
  for (let h = 0; h < nKvHeads; h++) {
    for (let t = 0; t < n; t++) {
      const position = positions[h * n + t]!;
      if (position < 0) continue; // front padding of a shorter head: never kept
      let sum = 0;
      for (let g = 0; g < group; g++) {
        for (let w = 0; w < windowSize; w++) {
          const q = ((h * group + g) * windowSize + w) * headDim;
          const k = (h * n + t) * headDim;
          for (let d = 0; d < headDim; d++) sum += windowQueries[q + d]! * keys[k + d]!;
        }
      }
      scores[h * n + t] = position < 4 ? Number.MAX_VALUE : sum / (group * windowSize);
    }
  }
  return scores;
}

const press = new CustomScorerPress({ compressionRatio: 0.5, windowSize: 8, label: 'query-attention', score: queryAttention });
const provider = createPressKV({ threads: 2 });
const engineModel = await provider.loadModel(modelPath);
const model = wrapLanguageModel({ model: provider(modelPath), middleware: pressMiddleware({ press, store: engineModel }) });

const story = Array.from({ length: 12 }, (_, i) => `Day ${i + 1}: the ${['red', 'blue', 'green'][i % 3]} boat sailed ${i + 2} miles.`).join(' ');
const settings = { maxOutputTokens: 16, temperature: 0 };
for (const question of ['Which boat sailed the farthest?', 'How far did the boat sail on day 3?']) {
  const answer = await generateText({ model, system: story, prompt: question, ...settings });
  const kv = answer.providerMetadata?.presskv as Record<string, unknown>;
  console.log(`Q: ${question}\nA: ${answer.text.trim()}`);
  console.log(`   press ${kv.press}: context KV ${kv.tokensBefore} tokens → ${kv.tokensAfter} kept per head, ${kv.bytesAfter} bytes, cache hit ${kv.cacheHit}`);
}

const streamed = streamText({ model, system: story, prompt: 'Name a colour of a boat.', ...settings });
let text = '';
for await (const delta of streamed.textStream) text += delta;
const kv = (await streamed.providerMetadata)?.presskv as Record<string, unknown>;
console.log(`Streamed: ${text.trim()}\n   cache hit ${kv.cacheHit}`);
console.log(`layers scored by the TypeScript scorer: ${scoredLayers}`);
engineModel.dispose();
