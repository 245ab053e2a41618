// GPU checks (npm run test:gpu): the CUDA forward pass against the CPU engine, its plain reference.
// Runs with node's own test runner on the built package (dist/ + build/Release), so a GPU machine
// needs only node and the addon. Skips with a message when no CUDA device works. Results (errors,
// timings) go to $PRESSKV_GPU_OUT/gpu-results.json (default: ./gpu-results).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const { Model, systemInfo } = await import(join(root, 'dist/engine/index.js'));
const { makeModel } = await import(join(root, 'dist/engine/make-model/index.js'));
const { readModelFiles } = await import(join(root, 'dist/engine/model-files.js'));
const { nativeAddon } = await import(join(root, 'dist/engine/native.js'));

const outDir = resolve(process.env.PRESSKV_GPU_OUT ?? join(root, 'gpu-results'));
mkdirSync(outDir, { recursive: true });
const results = { startedAt: new Date().toISOString(), system: systemInfo(), parity: [], presses: [], golden: null, batch: null, bench: [] };
after(() => writeFileSync(join(outDir, 'gpu-results.json'), JSON.stringify(results, null, 2)));

const cuda = systemInfo().cuda;
const noGpu = !cuda.compiled ? 'this build has no CUDA support' : cuda.error ? cuda.error : cuda.devices.length === 0 ? 'no CUDA device' : '';
if (noGpu) console.log(`# GPU tests skipped: no GPU is present (${noGpu})`);

const sharedModels = [process.env.PRESSKV_SHARED_MODELS, join(root, '../shared/models')].filter(Boolean).find((d) => existsSync(join(d, 'stories260K.gguf')));
const tmp = join(tmpdir(), 'presskv-gpu-models');
mkdirSync(tmp, { recursive: true });

async function made(arch, dtype, shape = 'tiny') {
  const out = join(tmp, `${arch}-${shape}-${dtype}.gguf`);
  if (!existsSync(out)) await makeModel({ arch, shape, dtype, format: 'gguf', seed: 7, out });
  return out;
}

/** max |a − b| / max |b|: the relative error of a logits vector. */
function relError(a, b) {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

const greedy = { maxTokens: 64, temperature: 0, stopTokenIds: [] };

describe('CUDA forward pass vs the CPU engine', { skip: noGpu || undefined }, () => {
  for (const arch of ['llama', 'mistral', 'qwen2', 'qwen3'])
    for (const dtype of ['f32', 'f16', 'bf16'])
      it(`${arch} ${dtype}: logits (prefill and every row) and 64 greedy tokens`, async () => {
        const path = await made(arch, dtype);
        const files = await readModelFiles(path);
        const addon = nativeAddon();
        const handle = addon.loadModel(files.spec, { threads: 4 });
        const tokens = Int32Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % files.spec.config.vocab);
        const row = { arch, dtype };
        try {
          for (const kvDtype of ['f32', 'f16']) {
            const cpu = handle.evalLogits(tokens, { all: true, kvDtype, chunkSize: 64, pageTokens: 16 });
            const gpu = handle.evalLogits(tokens, { all: true, kvDtype, chunkSize: 64, pageTokens: 16, device: 0 });
            const err = relError(gpu, cpu);
            row[`logitsRelError_kv${kvDtype}`] = err;
            assert.ok(err < (dtype === 'f32' && kvDtype === 'f32' ? 1e-4 : 1e-3), `${arch} ${dtype} kv ${kvDtype}: relative error ${err}`);
          }
        } finally {
          handle.dispose();
        }
        const prompt = Array.from(tokens.slice(0, 40));
        const onCpu = await Model.load(path, { device: 'cpu', threads: 4 });
        const onGpu = await Model.load(path, { device: 'cuda' });
        try {
          assert.equal(onGpu.device, 'cuda:0');
          const a = await onCpu.generate(prompt, greedy);
          const b = await onGpu.generate(prompt, greedy);
          row.greedyEqual = a.generatedTokenIds.join() === b.generatedTokenIds.join();
          assert.deepEqual(b.generatedTokenIds, a.generatedTokenIds);
        } finally {
          onCpu.dispose();
          onGpu.dispose();
          results.parity.push(row);
        }
      });

  it('stories260K: llama.cpp golden200 exact on the GPU', { skip: sharedModels ? undefined : 'stories260K.gguf is absent' }, async () => {
    const golden = JSON.parse(readFileSync(join(sharedModels, 'golden-stories260K.json'), 'utf8'));
    const model = await Model.load(join(sharedModels, 'stories260K.gguf'), { device: 'cuda' });
    try {
      const prompt = golden.golden32.promptIdsWithBos;
      const r = await model.generate(prompt, { maxTokens: 200, temperature: 0, stopTokenIds: [] });
      results.golden = { equal: r.generatedTokenIds.join() === golden.golden200.ids.join(), text: r.text };
      assert.deepEqual(r.generatedTokenIds, golden.golden200.ids);
    } finally {
      model.dispose();
    }
  });

  it('presses keep the same per-head slot counts and answers on the GPU as on the CPU', { skip: sharedModels ? undefined : 'stories260K.gguf is absent' }, async () => {
    const path = join(sharedModels, 'stories260K.gguf');
    const onCpu = await Model.load(path, { device: 'cpu', threads: 4 });
    const onGpu = await Model.load(path, { device: 'cuda' });
    const story = 'Lily and Ben went to the park. They saw a big dog and a little cat. The dog was friendly and the cat was shy. ';
    const context = onCpu.tokenize(story.repeat(8));
    const question = onCpu.tokenize(' Lily said', { addSpecialTokens: false });
    const presses = ['knorm', 'snapkv', 'pyramidkv', 'streaming-llm', 'tova', 'expected-attention', 'keydiff', 'observed-attention', 'random'];
    try {
      for (const name of presses)
        for (const compressionRatio of [0.25, 0.5, 0.75]) {
          const press = { name, compressionRatio };
          const out = {};
          for (const [device, model] of [['cpu', onCpu], ['gpu', onGpu]]) {
            const s = model.createSession();
            const stats = await s.prefillContext(context, { press });
            const answer = await s.generate(question, { maxTokens: 16, temperature: 0, stopTokenIds: [] });
            out[device] = { lengths: stats.lengths, bytesAfter: stats.bytesAfter, answer: answer.generatedTokenIds };
            await s.dispose();
          }
          const sameLengths = JSON.stringify(out.cpu.lengths) === JSON.stringify(out.gpu.lengths);
          results.presses.push({ name, compressionRatio, sameLengths, sameBytes: out.cpu.bytesAfter === out.gpu.bytesAfter, sameAnswer: out.cpu.answer.join() === out.gpu.answer.join() });
        }
      const bad = results.presses.filter((p) => !p.sameLengths || !p.sameBytes);
      assert.deepEqual(bad, []);
    } finally {
      onCpu.dispose();
      onGpu.dispose();
    }
  });

  it('eight concurrent greedy requests on one compressed GPU context = the same requests one by one', { skip: sharedModels ? undefined : 'stories260K.gguf is absent' }, async () => {
    const model = await Model.load(join(sharedModels, 'stories260K.gguf'), { device: 'cuda' });
    try {
      const context = model.tokenize('Once upon a time, there was a little girl named Lily. She loved to play outside. '.repeat(6));
      const base = model.createSession();
      await base.prefillContext(context, { press: { name: 'snapkv', compressionRatio: 0.5 } });
      const questions = Array.from({ length: 8 }, (_, i) => model.tokenize([' Lily', ' One day', ' The sun', ' Her mom', ' A bird', ' They', ' Tom', ' The end'][i], { addSpecialTokens: false }));
      const ask = async (q) => {
        const s = await base.fork();
        const r = await s.generate(q, { maxTokens: 24, temperature: 0, stopTokenIds: [] });
        await s.dispose();
        return r.generatedTokenIds.join();
      };
      const sequential = [];
      for (const q of questions) sequential.push(await ask(q));
      const concurrent = await Promise.all(questions.map(ask));
      const stats = model.stats();
      results.batch = { equal: sequential.join('|') === concurrent.join('|'), largestDecodeBatch: stats.largestDecodeBatch, deviceMemory: stats.deviceMemory };
      assert.deepEqual(concurrent, sequential);
      await base.dispose();
    } finally {
      model.dispose();
    }
  });

  it('speed: prefill and decode tok/s of make-model shapes in bf16', { skip: process.env.PRESSKV_GPU_BENCH === '0' || undefined }, async () => {
    for (const [arch, shape] of [['qwen3', 'qwen3-0.6b'], ['llama', 'llama-3.2-1b']]) {
      const path = await made(arch, 'bf16', shape);
      const model = await Model.load(path, { device: 'cuda', contextLength: 8192 });
      try {
        for (const context of [2048, 8192]) {
          if (context > 8192) continue;
          const prompt = Array.from({ length: context - 64 }, (_, i) => (i * 7919 + 13) % 1000 + 10);
          const s = model.createSession();
          const t0 = performance.now();
          await s.evaluate(prompt, { logits: 'last' });
          const prefillMs = performance.now() - t0;
          const t1 = performance.now();
          const r = await s.generate([], { maxTokens: 32, temperature: 0, stopTokenIds: [] });
          const decodeMs = performance.now() - t1;
          await s.dispose();
          const c = model.info.config;
          const weightBytes = model.info.weightBytes;
          const kvBytesPerToken = c.nLayers * c.nKvHeads * c.headDim * 2 * 2;
          const decodeTokS = (r.generatedTokenIds.length / decodeMs) * 1000;
          const gbPerS = ((weightBytes + kvBytesPerToken * context) * decodeTokS) / 1e9;
          const row = { shape, context, prefillTokS: (prompt.length / prefillMs) * 1000, prefillTflops: (2 * weightBytes / 2 * prompt.length) / (prefillMs / 1000) / 1e12, decodeTokS, decodeGBs: gbPerS, rooflinePct: (gbPerS / 4300) * 100 };
          results.bench.push(row);
          console.log(`# bench ${JSON.stringify(row)}`);
        }
      } finally {
        model.dispose();
      }
    }
  });
});

describe('device selection without a GPU', { skip: noGpu ? undefined : 'a GPU is present' }, () => {
  it("'cuda' is a typed error and 'auto' runs on the CPU", async () => {
    const path = await made('llama', 'f32');
    await assert.rejects(Model.load(path, { device: 'cuda' }), (e) => e.code === 'ERR_DEVICE_UNAVAILABLE');
    const m = await Model.load(path, { device: 'auto' });
    assert.equal(m.device, 'cpu');
    m.dispose();
  });
});
