// Every press of the catalogue, configured through its TS class, compresses a 401-token stories260K context
// (a real pretrained Llama) inside the engine's own layer-major prefill (addon pressEvalContext): the KV bytes
// fall to (1 − r)·before + one page per (layer, kv-head) — head-wise presses included — and the continuation
// still runs on the compressed cache.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callNative, type NativeModelHandle } from '../../engine/native.js';
import { readModelFiles } from '../../engine/model-files.js';
import { CustomScorerPress, createPress, listPresses, type CustomScorerLayer, type Press, type PressSpec } from '../../engine/presses/index.js';
import { nativePressConfig } from '../../engine/presses/prepare.js';
import type { PressTextSource } from '../../engine/presses/reconstruction-prompts.js';
import { loadTokenizer } from '../../engine/tokenizer.js';
import { havePressEvalFiles, pressEvalAddon, storiesGoldenPath, storiesModelPath, type EvalResult } from '../helpers/press-eval-addon.js';
import { makeTempDir, writeF32Safetensors, waveTensor, writeJson, writeTrainedPressArtefacts } from './artefact-files.js';

const addon = pressEvalAddon;
const modelPath = storiesModelPath;
const goldenPath = storiesGoldenPath;
const available = havePressEvalFiles;
if (!available) console.warn('[presses] stories260K press tests skipped: ../shared/models/stories260K.gguf or the native pressEvalContext entry is missing');

const PAGE_TOKENS = 16;
const RATIO = 0.5;
// stories260K: 5 layers, 8 heads, 4 kv-heads, head dim 8, hidden 64.
const L = 5;
const H = 8;
const HK = 4;
const HEAD_DIM = 8;
const HIDDEN = 64;

describe.skipIf(!available)('every press on stories260K', () => {
  let model: NativeModelHandle;
  let context: Int32Array;
  let continuation: Int32Array;
  let text: PressTextSource; // KVzip's reconstruction prompts come from the model's tokenizer
  const tmp = makeTempDir('presskv-stories-presses-');
  const files: Record<string, string> = {};


  beforeAll(async () => {
    const modelFiles = await readModelFiles(modelPath);
    model = callNative(() => addon!.loadModel(modelFiles.spec, { threads: 1 }));
    text = { tokenizer: await loadTokenizer(modelFiles), chatTemplate: modelFiles.chatTemplate };
    const golden = JSON.parse(readFileSync(goldenPath, 'utf8')) as { golden200: { ids: number[] } };
    const story = golden.golden200.ids;
    context = Int32Array.from([1, ...story, ...story]);
    continuation = Int32Array.from(story.slice(0, 16));

    files.qfilter = await writeF32Safetensors(join(tmp.dir, 'qf.safetensors'), { q_filters: waveTensor([L, HK, HEAD_DIM], 0.7) });
    const cov = new Float32Array(L * H * HEAD_DIM * HEAD_DIM);
    for (let i = 0; i < L * H; i++) for (let c = 0; c < HEAD_DIM; c++) cov[(i * HEAD_DIM + c) * HEAD_DIM + c] = 0.5;
    files.stats = await writeF32Safetensors(join(tmp.dir, 'stats.safetensors'), { query_mean: waveTensor([L, H, HEAD_DIM], 0.9, 1), query_cov: { shape: [L, H, HEAD_DIM, HEAD_DIM], data: cov } });
    Object.assign(files, await writeTrainedPressArtefacts(tmp.dir, { nLayers: L, nHeads: H, nKvHeads: HK, hidden: HIDDEN }));
    // kvpress's test mock: row i prunes (i + 1) % of every head.
    files.curve = await writeF32Safetensors(join(tmp.dir, 'curve.safetensors'), {
      curve: { shape: [99, L, HK], data: Float32Array.from({ length: 99 * L * HK }, (_x, i) => (Math.floor(i / (L * HK)) + 1) / 100) },
    });
    files.duo = writeJson(join(tmp.dir, 'duo.json'), { sinkSize: 4, recentSize: 60, headScores: Array.from({ length: L }, (_x, l) => Array.from({ length: HK }, (_y, h) => ((l * 7 + h * 3) % 10) / 10)) });
  });
  afterAll(() => {
    model?.dispose();
    tmp.cleanup();
  });

  const run = (press: Press | null, withContinuation: boolean): EvalResult =>
    callNative(() =>
      addon!.pressEvalContext(model, context, press ? nativePressConfig(press, text) : null, { pageTokens: PAGE_TOKENS, continuation: withContinuation ? continuation : undefined }),
    );

  /** The options each press runs with; the ones without a compressionRatio get their own knob set to remove ≥ half. */
  function specFor(name: string, kind: string): PressSpec {
    const r = { compressionRatio: RATIO };
    const scorer = { name: 'knorm' };
    const table: Record<string, PressSpec> = {
      'expected-attention-stats': { name, ...r, artefactPath: files.stats },
      qfilter: { name, ...r, artefactPath: files.qfilter },
      kvzap: { name, ...r, artefactPath: files.kvzap },
      'fast-kvzip': { name, ...r, artefactPath: files.gates },
      lukv: { name, ...r, artefactPath: files.curve },
      think: { name, keyChannelCompressionRatio: 0.5 },
      simlayerkv: { name, lazyThreshold: 0, nRecent: 100 },
      'duo-attention': { name, headCompressionRatio: 1, artefactPath: files.duo },
      finch: { name, ...r, windowSize: 16 },
      'per-layer-compression': { name, compressionRatios: Array(L).fill(RATIO), press: scorer },
      composed: { name, presses: [{ name: 'knorm', compressionRatio: 0.25 }, { name: 'keydiff', compressionRatio: 1 / 3 }] },
      dms: { name, threshold: 0, slidingWindowSize: 128, press: scorer },
      'prefill-decoding': { name, prefillingPress: { name: 'snapkv', ...r }, decodingPress: { name: 'decoding', compressionInterval: 1, targetSize: 128, press: scorer } },
      decoding: { name, compressionInterval: 1, targetSize: 128, press: scorer },
      'compression-ratio-decoding': { name, targetCompressionRatio: RATIO, compressionInterval: 1, press: scorer },
      cam: { name, compressionInterval: 1, targetSize: 128, press: scorer },
    };
    if (table[name]) return table[name];
    if (kind === 'wrapper') return { name, ...r, press: { name: 'snapkv' } };
    return { name, ...r };
  }

  const slack = L * HK * PAGE_TOKENS * (2 * HEAD_DIM * 2 + 4); // one f16 page (K, V rows + positions) per (layer, kv-head)

  for (const { name, kind } of listPresses()) {
    it(`${name}`, () => {
      const press = createPress(specFor(name, kind));
      const out = run(press, true);
      expect(out.logits!.length).toBe(continuation.length * 512);
      expect(out.logits!.every((x) => Number.isFinite(x))).toBe(true);
      expect(out.perLayer.flatMap((l) => l.perHead).reduce((a, b) => a + b, 0)).toBe(out.tokensAfter);
      if (name === 'think') {
        expect(out.bytesAfter).toBe(out.bytesBefore); // zeroed channels, no bytes freed: reported honestly
      } else if (kind === 'decoding' && name !== 'prefill-decoding') {
        expect(out.bytesAfter).toBe(out.bytesBefore); // the prefill is left alone; generation is cut to target
      } else {
        expect(out.bytesAfter).toBeLessThanOrEqual((1 - RATIO) * out.bytesBefore + slack);
        expect(out.tokensAfter).toBeLessThan(out.tokensBefore);
      }
    });
  }

  it('a custom TypeScript scorer runs inside the engine prefill, alone and inside AdaKV', () => {
    let calls = 0;
    const score = (layer: CustomScorerLayer) => {
      calls++;
      return Float32Array.from({ length: layer.nKvHeads * layer.n }, (_x, i) => layer.positions[i] % 7);
    };
    const plain = run(new CustomScorerPress({ compressionRatio: RATIO, score }), true);
    expect(calls).toBe(L);
    expect(plain.bytesAfter).toBeLessThanOrEqual((1 - RATIO) * plain.bytesBefore + slack);
    const ada = run(createPress({ name: 'adakv', compressionRatio: RATIO, press: new CustomScorerPress({ score }) }), false);
    expect(ada.tokensAfter).toBe(L * HK * Math.floor(context.length * (1 - RATIO)));
  });
});
