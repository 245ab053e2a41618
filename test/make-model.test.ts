// make-model: every architecture × format × dtype reads back through presskv's own readers exactly as
// written (config, tensor names, shapes, dtypes, offsets), the weights have the distributions and dtype
// encodings asked for, tokenizers load and agree across formats, and chat templates render with tools.
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../engine/errors.js';
import { f32ToBf16Bits, f32ToF16Bits } from '../engine/make-model/half-float.js';
import { makeModel, type MakeModelOptions } from '../engine/make-model/index.js';
import { readModelFiles } from '../engine/model-files.js';
import type { Architecture, ModelSpec, WeightDType } from '../engine/model-spec.js';
import { loadTokenizer } from '../engine/tokenizer.js';
import { bf16BitsToNumber, f16BitsToNumber, readTensor } from './reference/read-tensor.js';

const ARCHS: Architecture[] = ['llama', 'mistral', 'qwen2', 'qwen3'];
const DTYPES: WeightDType[] = ['f32', 'f16', 'bf16'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'presskv-make-model-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function outPath(o: Omit<MakeModelOptions, 'out'>): string {
  return join(dir, `${o.arch}-${o.shape}-${o.dtype}-${o.seed}${o.shards ? `-x${o.shards}` : ''}${o.format === 'gguf' ? '.gguf' : '-hf'}`);
}

const made = (o: Omit<MakeModelOptions, 'out'>) => makeModel({ ...o, out: outPath(o) });

const tensor = (spec: ModelSpec, name: string) => {
  const t = spec.tensors.find((d) => d.name === name);
  if (!t) throw new Error(`no tensor ${name}`);
  return t;
};

describe('round trip through the model readers', () => {
  for (const arch of ARCHS) {
    for (const format of ['gguf', 'hf'] as const) {
      for (const dtype of DTYPES) {
        it(`${arch} ${format} ${dtype}`, async () => {
          const m = await made({ arch, shape: 'tiny', dtype, format, seed: 7 });
          const files = await readModelFiles(m.path);
          expect(files.spec).toEqual(m.spec);
          const c = files.spec.config;
          // What llama.cpp's conventions say the file holds.
          expect(c.arch).toBe(format === 'gguf' && arch === 'mistral' ? 'llama' : arch);
          expect(c.ropeStyle).toBe(format === 'gguf' && (arch === 'llama' || arch === 'mistral') ? 'interleaved' : 'half-split');
          expect(c.qkvBias).toBe(arch === 'qwen2');
          expect(c.qkNorm).toBe(arch === 'qwen3');
          expect(c.hidden).toBe(64);
          if (arch === 'qwen3') expect(c.headDim).not.toBe(c.hidden / c.nHeads);
          expect(c.nHeads % c.nKvHeads).toBe(0);
          expect(c.nKvHeads).toBeLessThan(c.nHeads);
          for (const t of files.spec.tensors) {
            const oneDimensional = t.shape.length === 1;
            expect(t.dtype, t.name).toBe(format === 'gguf' && oneDimensional ? 'f32' : dtype);
          }
          expect(tensor(files.spec, 'blk.0.attn_q.weight').shape).toEqual([c.nHeads * c.headDim, c.hidden]);
          expect(tensor(files.spec, 'blk.0.attn_k.weight').shape).toEqual([c.nKvHeads * c.headDim, c.hidden]);
          expect(tensor(files.spec, 'blk.0.ffn_down.weight').shape).toEqual([c.hidden, c.ffn]);
          expect(files.spec.tensors.some((t) => t.name === 'output.weight')).toBe(!c.tiedEmbeddings);
          if (arch === 'llama') {
            // llama3 rope scaling: a config field in HF, llama.cpp's rope_freqs tensor in GGUF.
            if (format === 'hf') expect(c.ropeScaling.type).toBe('llama3');
            else expect(tensor(files.spec, 'rope_freqs.weight').shape).toEqual([c.ropeDim / 2]);
          }
          expect(files.chatTemplate).toContain('tools');
          expect(files.generationConfig.eosTokenIds.length).toBeGreaterThan(0);
        });
      }
    }
  }

  it('shards HF weights with an index when asked', async () => {
    const m = await made({ arch: 'qwen2', shape: 'tiny', dtype: 'bf16', format: 'hf', seed: 3, shards: 3 });
    const names = readdirSync(m.path).filter((f) => f.endsWith('.safetensors')).sort();
    expect(names).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    const index = JSON.parse(readFileSync(join(m.path, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(names));
    expect(index.metadata.total_size).toBe(m.spec.tensors.reduce((n, t) => n + t.nbytes, 0));
    expect((await readModelFiles(m.path)).spec).toEqual(m.spec);
  });

  it('reports progress tensor by tensor up to the total size', async () => {
    const seen: Array<{ writtenBytes: number; totalBytes: number; tensor: string }> = [];
    const m = await makeModel({ arch: 'qwen2', shape: 'tiny', dtype: 'f16', format: 'gguf', seed: 2, out: join(dir, 'progress.gguf'), onProgress: (p) => seen.push(p) });
    const total = m.spec.tensors.reduce((n, t) => n + t.nbytes, 0);
    expect(seen.map((p) => p.tensor)).toEqual(m.spec.tensors.map((t) => t.name));
    expect(seen.every((p, i) => p.totalBytes === total && (i === 0 || p.writtenBytes > seen[i - 1].writtenBytes))).toBe(true);
    expect(seen[seen.length - 1].writtenBytes).toBe(total);
  });

  it('writes the real shapes (stories260K dimensions)', async () => {
    const m = await made({ arch: 'llama', shape: 'stories', dtype: 'f32', format: 'gguf', seed: 1 });
    const c = (await readModelFiles(m.path)).spec.config;
    expect([c.nLayers, c.hidden, c.nHeads, c.nKvHeads, c.headDim, c.ffn, c.vocab]).toEqual([5, 64, 8, 4, 8, 172, 512]);
  });
});

describe('weights', () => {
  it('are uniform around the planned centres, and f16/bf16 files hold the rounded f32 values', async () => {
    const specs: Record<string, ModelSpec> = {};
    for (const dtype of DTYPES) specs[dtype] = (await made({ arch: 'qwen3', shape: 'tiny', dtype, format: 'hf', seed: 11 })).spec;
    const q32 = readTensor(specs.f32, tensor(specs.f32, 'blk.1.attn_q.weight'));
    const bound = 3 / Math.sqrt(64); // query gain 3 over fan-in 64
    expect(Math.max(...q32.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...q32.map(Math.abs))).toBeGreaterThan(0.95 * bound);
    expect(Math.abs(q32.reduce((a, b) => a + b, 0) / q32.length)).toBeLessThan(0.05 * bound);
    const norm = readTensor(specs.f32, tensor(specs.f32, 'blk.1.attn_q_norm.weight'));
    for (const v of norm) expect(Math.abs(v - 2)).toBeLessThanOrEqual(0.4);
    const q16 = readTensor(specs.f16, tensor(specs.f16, 'blk.1.attn_q.weight'));
    const qb16 = readTensor(specs.bf16, tensor(specs.bf16, 'blk.1.attn_q.weight'));
    for (let i = 0; i < q32.length; i++) {
      expect(q16[i]).toBe(f16BitsToNumber(f32ToF16Bits(q32[i])));
      expect(qb16[i]).toBe(bf16BitsToNumber(f32ToBf16Bits(q32[i])));
    }
  });

  it('depend on the seed only', async () => {
    const read = async (seed: number, name: string) => {
      const m = await makeModel({ arch: 'llama', shape: 'tiny', dtype: 'f16', format: 'gguf', seed, out: join(dir, `seed-${name}.gguf`) });
      return readFileSync(m.path);
    };
    expect((await read(5, 'a')).equals(await read(5, 'b'))).toBe(true);
    expect((await read(5, 'a')).equals(await read(6, 'c'))).toBe(false);
  });
});

describe('half-precision conversion rounds to nearest, ties to even', () => {
  it('f16: every half value round-trips, and random floats land on a nearest neighbour', () => {
    const notRoundTripping: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const exponent = (bits >> 10) & 0x1f;
      if (exponent === 31 && (bits & 0x3ff) !== 0) continue; // NaN payloads
      if (f32ToF16Bits(f16BitsToNumber(bits)) !== bits) notRoundTripping.push(bits);
    }
    expect(notRoundTripping).toEqual([]);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (down)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds past the largest half: infinity
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal → 0
    expect(f32ToF16Bits(1.5 * 2 ** -24)).toBe(2); // tie between subnormals 1 and 2 → 2
    const notNearest: number[] = [];
    let state = 12345;
    for (let i = 0; i < 20000; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const x = Math.fround(((state / 2 ** 32) * 2 - 1) * 2 ** ((i % 40) - 26));
      const h = f32ToF16Bits(x);
      const err = Math.abs(f16BitsToNumber(h) - x);
      const worseThanNext = err > Math.abs(f16BitsToNumber(h + 1) - x);
      const worseThanPrevious = (h & 0x7fff) > 0 && err > Math.abs(f16BitsToNumber(h - 1) - x);
      if (worseThanNext || worseThanPrevious) notNearest.push(x);
    }
    expect(notNearest).toEqual([]);
  });

  it('bf16: truncation with round-to-nearest-even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even (down)
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie → even (up)
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16Bits(-2.5)).toBe(0xc020);
    expect(bf16BitsToNumber(f32ToBf16Bits(NaN))).toBeNaN();
  });
});

describe('tokenizers', () => {
  const TEXTS = [
    'Hello world! The lighthouse keeper counted 1234 ships.',
    "It's 10:30 — héllo, naïve café, 東京, emoji 😀🚢\n\n  indented\tline",
    '<|im_start|>user\nhi<|im_end|>\n<think>\nmaybe\n</think>\n',
    '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>',
  ];

  for (const arch of ['qwen3', 'llama'] as const) {
    it(`${arch}: tokenizer.json loads in @huggingface/tokenizers and round-trips text`, async () => {
      const m = await made({ arch, shape: 'tiny', dtype: 'f32', format: 'hf', seed: 1 });
      const json = JSON.parse(readFileSync(join(m.path, 'tokenizer.json'), 'utf8'));
      const config = JSON.parse(readFileSync(join(m.path, 'tokenizer_config.json'), 'utf8'));
      const tok = new Tokenizer(json, config);
      expect(tok.get_vocab().size).toBe(m.config.vocab);
      for (const text of TEXTS) {
        const { ids } = tok.encode(text, { add_special_tokens: false });
        expect(ids.every((id: number) => id >= 0 && id < m.config.vocab)).toBe(true);
        expect(tok.decode(ids, { skip_special_tokens: false })).toBe(text);
      }
      // Learned merges compress common English; specials are single tokens.
      expect(tok.encode(' the', { add_special_tokens: false }).ids).toHaveLength(1);
      const special = arch === 'qwen3' ? '<|im_end|>' : '<|eot_id|>';
      expect(tok.encode(special, { add_special_tokens: false }).ids).toEqual([tok.token_to_id(special)]);
      const withSpecials = tok.encode('hi', { add_special_tokens: true }).ids;
      if (arch === 'llama') expect(withSpecials[0]).toBe(m.tokenizer.bosId);
      else expect(withSpecials).toEqual(tok.encode('hi', { add_special_tokens: false }).ids);
    });

    it(`${arch}: the GGUF's embedded vocabulary gives the same ids as tokenizer.json`, async () => {
      const hf = await loadTokenizer(await readModelFiles((await made({ arch, shape: 'tiny', dtype: 'f32', format: 'hf', seed: 1 })).path));
      const gguf = await loadTokenizer(await readModelFiles((await made({ arch, shape: 'tiny', dtype: 'f32', format: 'gguf', seed: 1 })).path));
      expect(gguf.vocabSize).toBe(hf.vocabSize);
      expect(gguf.addBos).toBe(hf.addBos);
      for (const text of TEXTS) {
        for (const addSpecialTokens of [false, true]) {
          expect(gguf.encode(text, { addSpecialTokens }), JSON.stringify(text)).toEqual(hf.encode(text, { addSpecialTokens }));
        }
      }
    });
  }

  it('a vocabulary of 151,936 tokens (qwen3-0.6b) builds and loads in @huggingface/tokenizers', async () => {
    const { buildTokenizer } = await import('../engine/make-model/synthetic-tokenizer.js');
    const { tokenizerJson, tokenizerConfigJson } = await import('../engine/make-model/hf-files.js');
    const big = buildTokenizer('qwen', 151936);
    expect(big.tokens).toHaveLength(151936);
    expect(new Set(big.tokens).size).toBe(151936);
    const tok = new Tokenizer(tokenizerJson(big) as never, tokenizerConfigJson(big, '', 40960) as never);
    const text = 'The keeper wrote three lines in the log.';
    expect(tok.decode(tok.encode(text).ids)).toBe(text);
  });
});

describe('chat templates', () => {
  const tools = [
    {
      type: 'function',
      function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    },
  ];
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
    { role: 'tool', content: '{"temperature": 21}' },
  ];

  it('qwen: tools, tool calls, tool responses and enable_thinking', async () => {
    const m = await made({ arch: 'qwen3', shape: 'tiny', dtype: 'f32', format: 'gguf', seed: 1 });
    const template = new Template((await readModelFiles(m.path)).chatTemplate!);
    const text = template.render({ messages, tools, add_generation_prompt: true, enable_thinking: false });
    expect(text.startsWith('<|im_start|>system\nBe brief.\n\n# Tools')).toBe(true);
    expect(text).toContain('<tools>\n{"type": "function", "function": {"name": "get_weather"');
    expect(text).toContain('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n');
    expect(text).toContain('<|im_start|>user\n<tool_response>\n{"temperature": 21}\n</tool_response><|im_end|>\n');
    expect(text.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    const plain = template.render({ messages: [{ role: 'user', content: 'hi' }], add_generation_prompt: true });
    expect(plain).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
  });

  it('llama3: tools in the system turn, JSON tool calls, ipython results', async () => {
    const m = await made({ arch: 'llama', shape: 'tiny', dtype: 'f32', format: 'hf', seed: 1 });
    const files = await readModelFiles(m.path);
    const template = new Template(files.chatTemplate!);
    const text = template.render({ messages, tools, add_generation_prompt: true, bos_token: '<|begin_of_text|>' });
    expect(text.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython')).toBe(true);
    expect(text).toContain('"name": "get_weather"');
    expect(text).toContain('<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>');
    expect(text).toContain('<|start_header_id|>ipython<|end_header_id|>\n\n{"temperature": 21}<|eot_id|>');
    expect(text.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
    const tok = await loadTokenizer(files);
    expect(tok.decode(tok.encode(text, { addSpecialTokens: false }), { skipSpecialTokens: false })).toBe(text);
  });
});

describe('options', () => {
  it('rejects bad options with InvalidArgumentError', async () => {
    const base: MakeModelOptions = { arch: 'llama', shape: 'tiny', dtype: 'f32', format: 'gguf', seed: 1, out: join(dir, 'bad.gguf') };
    await expect(makeModel({ ...base, arch: 'gpt2' as Architecture })).rejects.toThrow(InvalidArgumentError);
    await expect(makeModel({ ...base, shape: 'huge' as never })).rejects.toThrow(/shape must be one of/);
    await expect(makeModel({ ...base, dtype: 'q4_0' as WeightDType })).rejects.toThrow(InvalidArgumentError);
    await expect(makeModel({ ...base, seed: -1 })).rejects.toThrow(/seed/);
    await expect(makeModel({ ...base, shards: 2 })).rejects.toThrow(/HF directories only/);
  });
});
