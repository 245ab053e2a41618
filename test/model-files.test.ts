import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CorruptModelError,
  ModelNotFoundError,
  UnsupportedArchitectureError,
  UnsupportedDtypeError,
} from '../engine/errors.js';
import { GgmlType, GgufValueType, readGguf } from '../engine/gguf.js';
import { hfTensorName, readModelFiles } from '../engine/model-files.js';
import { buildGguf, buildSafetensors, type KvEntry, type SafetensorsEntry, type TensorEntry } from './gguf-bytes.js';

const stories = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'presskv-mf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
let n = 0;
const fresh = (suffix = '') => join(dir, `m${n++}${suffix}`);

interface Shape {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  vocab: number;
}
const TINY: Shape = { layers: 2, hidden: 8, heads: 4, kvHeads: 2, headDim: 4, ffn: 12, vocab: 16 };

/** GGUF-named tensors of a model with this shape, as [name, row-major shape]. */
function modelTensors(s: Shape, opts: { bias?: boolean; qkNorm?: boolean; tied?: boolean }): Array<[string, number[]]> {
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const out: Array<[string, number[]]> = [
    ['token_embd.weight', [s.vocab, s.hidden]],
    ['output_norm.weight', [s.hidden]],
  ];
  if (!opts.tied) out.push(['output.weight', [s.vocab, s.hidden]]);
  for (let l = 0; l < s.layers; l++) {
    const b = `blk.${l}`;
    out.push(
      [`${b}.attn_norm.weight`, [s.hidden]],
      [`${b}.attn_q.weight`, [q, s.hidden]],
      [`${b}.attn_k.weight`, [kv, s.hidden]],
      [`${b}.attn_v.weight`, [kv, s.hidden]],
      [`${b}.attn_output.weight`, [s.hidden, q]],
      [`${b}.ffn_norm.weight`, [s.hidden]],
      [`${b}.ffn_gate.weight`, [s.ffn, s.hidden]],
      [`${b}.ffn_up.weight`, [s.ffn, s.hidden]],
      [`${b}.ffn_down.weight`, [s.hidden, s.ffn]],
    );
    if (opts.bias) out.push([`${b}.attn_q.bias`, [q]], [`${b}.attn_k.bias`, [kv]], [`${b}.attn_v.bias`, [kv]]);
    if (opts.qkNorm) out.push([`${b}.attn_q_norm.weight`, [s.headDim]], [`${b}.attn_k_norm.weight`, [s.headDim]]);
  }
  return out;
}

const GGML_BYTES: Record<number, number> = { [GgmlType.F32]: 4, [GgmlType.F16]: 2, [GgmlType.BF16]: 2 };

function ggufModel(arch: string, s: Shape, o: { bias?: boolean; qkNorm?: boolean; tied?: boolean; type?: number; extraKv?: KvEntry[]; headDimKey?: boolean }) {
  const u32 = (key: string, value: number): KvEntry => ({ key, type: GgufValueType.UINT32, value });
  const kv: KvEntry[] = [
    { key: 'general.architecture', type: GgufValueType.STRING, value: arch },
    u32(`${arch}.block_count`, s.layers),
    u32(`${arch}.embedding_length`, s.hidden),
    u32(`${arch}.feed_forward_length`, s.ffn),
    u32(`${arch}.attention.head_count`, s.heads),
    u32(`${arch}.attention.head_count_kv`, s.kvHeads),
    u32(`${arch}.context_length`, 128),
    { key: `${arch}.attention.layer_norm_rms_epsilon`, type: GgufValueType.FLOAT32, value: 1e-6 },
    { key: `${arch}.rope.freq_base`, type: GgufValueType.FLOAT32, value: 1000000 },
    u32('tokenizer.ggml.bos_token_id', 1),
    u32('tokenizer.ggml.eos_token_id', 2),
    u32('tokenizer.ggml.eot_token_id', 3),
    u32('tokenizer.ggml.padding_token_id', 4294967295),
    { key: 'tokenizer.chat_template', type: GgufValueType.STRING, value: '{{ messages[0].content }}' },
    ...(o.headDimKey ? [u32(`${arch}.attention.key_length`, s.headDim)] : []),
    ...(o.extraKv ?? []),
  ];
  const type = o.type ?? GgmlType.F32;
  const tensors: TensorEntry[] = modelTensors(s, o).map(([name, shape]) => {
    const dims = [...shape].reverse();
    return { name, dims, type, nbytes: shape.reduce((a, b) => a * b, 1) * GGML_BYTES[type] };
  });
  return buildGguf({ kv, tensors });
}

describe('readModelFiles: GGUF', () => {
  it('maps llama metadata and tensors (shape reversed, interleaved rope, untied)', async () => {
    const p = fresh('.gguf');
    await writeFile(p, ggufModel('llama', { ...TINY, headDim: 2 }, { type: GgmlType.F16 }));
    const m = await readModelFiles(p);
    expect(m.format).toBe('gguf');
    expect(m.spec.format).toBe('gguf');
    expect(m.spec.files).toEqual([p]);
    expect(m.spec.config).toEqual({
      arch: 'llama',
      nLayers: 2,
      hidden: 8,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 2,
      ffn: 12,
      vocab: 16,
      contextLength: 128,
      rmsEps: expect.closeTo(1e-6, 12),
      ropeTheta: 1000000,
      ropeDim: 2,
      ropeStyle: 'interleaved',
      ropeScaling: { type: '', factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 },
      qkvBias: false,
      qkNorm: false,
      tiedEmbeddings: false,
    });
    expect(m.spec.tensors.find((t) => t.name === 'output.weight')).toMatchObject({ dtype: 'f16', shape: [16, 8], nbytes: 256 });
  });

  it('reads head_dim from attention.key_length, maps dtypes and offsets, reads eos/eot ids and template', async () => {
    const p = fresh('.gguf');
    await writeFile(p, ggufModel('llama', TINY, { type: GgmlType.BF16, headDimKey: true }));
    const m = await readModelFiles(p);
    const g = await readGguf(p);
    expect(m.spec.config.headDim).toBe(4);
    expect(m.spec.config.ropeDim).toBe(4);
    const q = m.spec.tensors.find((t) => t.name === 'blk.1.attn_q.weight')!;
    const gq = g.tensors.find((t) => t.name === 'blk.1.attn_q.weight')!;
    expect(q).toEqual({ name: 'blk.1.attn_q.weight', dtype: 'bf16', shape: [16, 8], fileIndex: 0, offset: gq.offset, nbytes: 256 });
    expect(gq.dims).toEqual([8, 16]);
    expect(m.generationConfig).toEqual({ bosTokenId: 1, eosTokenIds: [2, 3] });
    expect(m.chatTemplate).toBe('{{ messages[0].content }}');
    expect(m.tokenizerSource.kind).toBe('gguf');
    expect(m.gguf?.tensors.length).toBe(m.spec.tensors.length);
  });

  it('qwen2 (bias, half-split rope, tied) and qwen3 (q/k norm)', async () => {
    const p2 = fresh('.gguf');
    await writeFile(p2, ggufModel('qwen2', TINY, { bias: true, tied: true, headDimKey: true }));
    const q2 = (await readModelFiles(p2)).spec.config;
    expect([q2.arch, q2.ropeStyle, q2.qkvBias, q2.qkNorm, q2.tiedEmbeddings]).toEqual(['qwen2', 'half-split', true, false, true]);
    const p3 = fresh('.gguf');
    await writeFile(p3, ggufModel('qwen3', { ...TINY, headDim: 6 }, { qkNorm: true, headDimKey: true }));
    const q3 = (await readModelFiles(p3)).spec.config;
    expect([q3.arch, q3.ropeStyle, q3.qkvBias, q3.qkNorm, q3.tiedEmbeddings, q3.headDim]).toEqual(['qwen3', 'half-split', false, true, false, 6]);
  });

  it('reads linear and llama3 rope scaling keys', async () => {
    const p = fresh('.gguf');
    const f32 = (key: string, value: number): KvEntry => ({ key, type: GgufValueType.FLOAT32, value });
    await writeFile(
      p,
      ggufModel('llama', TINY, {
        headDimKey: true,
        extraKv: [
          { key: 'llama.rope.scaling.type', type: GgufValueType.STRING, value: 'llama3' },
          f32('llama.rope.scaling.factor', 8),
          f32('llama.rope.scaling.low_freq_factor', 1),
          f32('llama.rope.scaling.high_freq_factor', 4),
          { key: 'llama.rope.scaling.original_context_length', type: GgufValueType.UINT32, value: 8192 },
        ],
      }),
    );
    expect((await readModelFiles(p)).spec.config.ropeScaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPosition: 8192,
    });
  });

  it('quantized tensors are refused naming the type; unknown architectures list the supported ones', async () => {
    const s = { ...TINY, hidden: 32, heads: 4, headDim: 8, kvHeads: 2, ffn: 32, vocab: 32 };
    const kv: KvEntry[] = [{ key: 'general.architecture', type: GgufValueType.STRING, value: 'llama' }];
    for (const k of ['block_count', 'embedding_length', 'feed_forward_length', 'attention.head_count']) {
      kv.push({ key: `llama.${k}`, type: GgufValueType.UINT32, value: k === 'block_count' ? 1 : k === 'attention.head_count' ? 4 : 32 });
    }
    const p = fresh('.gguf');
    await writeFile(p, buildGguf({ kv, tensors: [{ name: 'token_embd.weight', dims: [256, s.vocab], type: GgmlType.Q4_K, nbytes: s.vocab * 144 }] }));
    const err = await readModelFiles(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedDtypeError);
    expect((err as Error).message).toMatch(/type Q4_K is not supported yet \(quantized GGUF comes later\); supported: F32, F16, BF16/);

    const pa = fresh('.gguf');
    await writeFile(pa, buildGguf({ kv: [{ key: 'general.architecture', type: GgufValueType.STRING, value: 'gpt2' }] }));
    const e2 = await readModelFiles(pa).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(UnsupportedArchitectureError);
    expect((e2 as Error).message).toMatch(/"gpt2".*supported: llama, mistral, qwen2, qwen3/);
  });

  it('missing tensors, wrong shapes and missing keys are CorruptModelError', async () => {
    const threeLayers = fresh('.gguf');
    const raw = ggufModel('llama', TINY, { headDimKey: true });
    // Patch block_count (a u32 right after its key) from 2 to 3.
    const key = Buffer.from('llama.block_count');
    const at = raw.indexOf(key) + key.length + 4;
    expect(raw.readUInt32LE(at)).toBe(2);
    raw.writeUInt32LE(3, at);
    await writeFile(threeLayers, raw);
    const e1 = await readModelFiles(threeLayers).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(CorruptModelError);
    expect((e1 as Error).message).toMatch(/missing tensor "blk.2.attn_norm.weight"/);

    const wrongHeads = ggufModel('llama', TINY, { headDimKey: true });
    const hk = Buffer.from('llama.attention.key_length');
    wrongHeads.writeUInt32LE(3, wrongHeads.indexOf(hk) + hk.length + 4);
    const pw = fresh('.gguf');
    await writeFile(pw, wrongHeads);
    const e2 = await readModelFiles(pw).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(CorruptModelError);
    expect((e2 as Error).message).toMatch(/rope dimension 3|"blk.0.attn_q.weight" has shape \[16, 8\], expected \[12, 8\]/);

    const pk = fresh('.gguf');
    await writeFile(pk, buildGguf({ kv: [{ key: 'general.architecture', type: GgufValueType.STRING, value: 'qwen3' }] }));
    await expect(readModelFiles(pk)).rejects.toThrow(/lacks required metadata "qwen3.embedding_length"/);
  });

  it.skipIf(!existsSync(stories))('stories260K.gguf', async () => {
    const m = await readModelFiles(stories);
    expect(m.spec.config).toMatchObject({
      arch: 'llama',
      nLayers: 5,
      hidden: 64,
      nHeads: 8,
      nKvHeads: 4,
      headDim: 8,
      ffn: 172,
      vocab: 512,
      contextLength: 2048,
      ropeTheta: 10000,
      ropeDim: 8,
      ropeStyle: 'interleaved',
      tiedEmbeddings: false,
    });
    expect(m.spec.tensors).toHaveLength(48);
    expect(m.spec.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')?.shape).toEqual([64, 172]);
    expect(m.generationConfig).toEqual({ bosTokenId: 1, eosTokenIds: [2] });
    expect(m.chatTemplate).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------

/** The HF checkpoint name of each GGUF-convention tensor name (inverse of hfTensorName). */
function hfName(gguf: string): string {
  const globals: Record<string, string> = {
    'token_embd.weight': 'model.embed_tokens.weight',
    'output_norm.weight': 'model.norm.weight',
    'output.weight': 'lm_head.weight',
  };
  if (globals[gguf]) return globals[gguf];
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(gguf)!;
  const parts: Record<string, string> = {
    attn_q: 'self_attn.q_proj',
    attn_k: 'self_attn.k_proj',
    attn_v: 'self_attn.v_proj',
    attn_output: 'self_attn.o_proj',
    attn_q_norm: 'self_attn.q_norm',
    attn_k_norm: 'self_attn.k_norm',
    ffn_gate: 'mlp.gate_proj',
    ffn_up: 'mlp.up_proj',
    ffn_down: 'mlp.down_proj',
    attn_norm: 'input_layernorm',
    ffn_norm: 'post_attention_layernorm',
  };
  return `model.layers.${m[1]}.${parts[m[2]]}.${m[3]}`;
}

const TOKENIZER_JSON = {
  version: '1.0',
  added_tokens: [
    { id: 14, content: '<|im_start|>', special: true },
    { id: 15, content: '<|im_end|>', special: true },
  ],
  model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] },
};

async function hfDir(
  arch: string,
  s: Shape,
  o: { bias?: boolean; qkNorm?: boolean; tied?: boolean; dtype?: string; shards?: number; config?: Record<string, unknown>; files?: Record<string, unknown> },
): Promise<string> {
  const d = fresh();
  await mkdir(d);
  const names = modelTensors(s, o);
  const entries: Array<[string, SafetensorsEntry]> = names.map(([name, shape]) => [hfName(name), { dtype: o.dtype ?? 'F32', shape }]);
  entries.push(['model.rotary_emb.inv_freq', { dtype: 'F32', shape: [s.headDim / 2] }]);
  const shards = o.shards ?? 1;
  if (shards === 1) {
    await writeFile(join(d, 'model.safetensors'), buildSafetensors(Object.fromEntries(entries)));
  } else {
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < shards; i++) {
      const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const mine = entries.filter((_, j) => j % shards === i);
      for (const [name] of mine) weightMap[name] = file;
      await writeFile(join(d, file), buildSafetensors(Object.fromEntries(mine)));
    }
    await writeFile(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  }
  const archClass: Record<string, string> = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };
  const config = {
    architectures: [archClass[arch] ?? arch],
    model_type: arch,
    hidden_size: s.hidden,
    intermediate_size: s.ffn,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    head_dim: s.headDim,
    rms_norm_eps: 1e-5,
    rope_theta: 500000,
    max_position_embeddings: 256,
    tie_word_embeddings: !!o.tied,
    vocab_size: s.vocab,
    ...o.config,
  };
  const files: Record<string, unknown> = {
    'config.json': config,
    'tokenizer.json': TOKENIZER_JSON,
    'tokenizer_config.json': { bos_token: null, eos_token: '<|im_end|>', chat_template: '{{ "hi" }}' },
    ...o.files,
  };
  for (const [name, content] of Object.entries(files)) {
    if (content !== undefined) await writeFile(join(d, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return d;
}

describe('readModelFiles: HF directories', () => {
  it('maps HF tensor names to GGUF names', () => {
    expect(hfTensorName('model.embed_tokens.weight')).toBe('token_embd.weight');
    expect(hfTensorName('model.layers.11.self_attn.q_proj.weight')).toBe('blk.11.attn_q.weight');
    expect(hfTensorName('model.layers.0.self_attn.v_proj.bias')).toBe('blk.0.attn_v.bias');
    expect(hfTensorName('model.layers.3.self_attn.k_norm.weight')).toBe('blk.3.attn_k_norm.weight');
    expect(hfTensorName('model.layers.3.post_attention_layernorm.weight')).toBe('blk.3.ffn_norm.weight');
    expect(hfTensorName('model.layers.3.mlp.down_proj.weight')).toBe('blk.3.ffn_down.weight');
    expect(hfTensorName('model.norm.weight')).toBe('output_norm.weight');
    expect(hfTensorName('lm_head.weight')).toBe('output.weight');
    expect(hfTensorName('model.rotary_emb.inv_freq')).toBeUndefined();
  });

  it('llama dir: config, half-split rope, llama3 scaling, eos from tokenizer_config when generation_config is absent', async () => {
    const d = await hfDir('llama', TINY, {
      dtype: 'BF16',
      config: { rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } },
    });
    const m = await readModelFiles(d);
    expect(m.format).toBe('hf');
    expect(m.spec.config).toEqual({
      arch: 'llama',
      nLayers: 2,
      hidden: 8,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 4,
      ffn: 12,
      vocab: 16,
      contextLength: 256,
      rmsEps: 1e-5,
      ropeTheta: 500000,
      ropeDim: 4,
      ropeStyle: 'half-split',
      ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 },
      qkvBias: false,
      qkNorm: false,
      tiedEmbeddings: false,
    });
    expect(m.spec.files).toEqual([join(d, 'model.safetensors')]);
    expect(m.spec.tensors.every((t) => t.dtype === 'bf16' && t.fileIndex === 0)).toBe(true);
    expect(m.spec.tensors.some((t) => t.name.includes('rotary'))).toBe(false);
    expect(m.spec.tensors.find((t) => t.name === 'blk.1.attn_output.weight')?.shape).toEqual([8, 16]);
    expect(m.generationConfig).toEqual({ bosTokenId: undefined, eosTokenIds: [15] });
    expect(m.chatTemplate).toBe('{{ "hi" }}');
    expect(m.tokenizerSource).toMatchObject({ kind: 'hf-json', tokenizerJson: TOKENIZER_JSON });
  });

  it('qwen2 sharded dir with tied embeddings, generation_config eos list and a named chat_template list', async () => {
    const d = await hfDir('qwen2', TINY, {
      bias: true,
      tied: true,
      shards: 3,
      files: {
        'generation_config.json': { bos_token_id: 14, eos_token_id: [15, 2] },
        'tokenizer_config.json': {
          chat_template: [
            { name: 'tool_use', template: 'TOOLS' },
            { name: 'default', template: 'DEFAULT' },
          ],
        },
      },
    });
    const m = await readModelFiles(d);
    expect(m.spec.config).toMatchObject({ arch: 'qwen2', qkvBias: true, qkNorm: false, tiedEmbeddings: true, ropeStyle: 'half-split' });
    expect(m.spec.files).toHaveLength(3);
    expect(new Set(m.spec.tensors.map((t) => t.fileIndex))).toEqual(new Set([0, 1, 2]));
    // Every tensor's offset points inside the shard it claims.
    for (const t of m.spec.tensors) expect(t.offset).toBeGreaterThan(8);
    expect(m.generationConfig).toEqual({ bosTokenId: 14, eosTokenIds: [15, 2] });
    expect(m.chatTemplate).toBe('DEFAULT');
  });

  it('qwen3 and mistral dirs', async () => {
    const q3 = await readModelFiles(await hfDir('qwen3', { ...TINY, headDim: 6 }, { qkNorm: true, dtype: 'F16' }));
    expect(q3.spec.config).toMatchObject({ arch: 'qwen3', qkNorm: true, headDim: 6, qkvBias: false });
    const mi = await readModelFiles(await hfDir('mistral', TINY, {}));
    expect(mi.spec.config.arch).toBe('mistral');
    const tiedByDefault = await readModelFiles(await hfDir('llama', TINY, { tied: true, config: { tie_word_embeddings: undefined } }));
    expect(tiedByDefault.spec.config.tiedEmbeddings).toBe(true);
  });

  it('a directory holding one .gguf (and no config.json) loads that file; several are ambiguous', async () => {
    const d = fresh();
    await mkdir(d);
    await writeFile(join(d, 'model-f16.gguf'), ggufModel('qwen2', TINY, { bias: true, headDimKey: true }));
    const m = await readModelFiles(d);
    expect(m.format).toBe('gguf');
    expect(m.path).toBe(join(d, 'model-f16.gguf'));
    await writeFile(join(d, 'other.gguf'), ggufModel('qwen2', TINY, { bias: true, headDimKey: true }));
    await expect(readModelFiles(d)).rejects.toThrow(/several GGUF files \(.*model-f16\.gguf.*\)/);
  });

  it('quantized HF checkpoints are refused by their quantization_config', async () => {
    const d = await hfDir('llama', TINY, { config: { quantization_config: { quant_method: 'awq', bits: 4 } } });
    const e = await readModelFiles(d).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnsupportedDtypeError);
    expect((e as Error).message).toMatch(/quantized checkpoint \(quant_method "awq"\)/);
  });

  it('missing files are ModelNotFoundError naming the expected file', async () => {
    await expect(readModelFiles(join(dir, 'no-such-model'))).rejects.toThrow(ModelNotFoundError);
    const empty = fresh();
    await mkdir(empty);
    await expect(readModelFiles(empty)).rejects.toThrow(/Missing model config: expected .*config\.json/);
    const noTok = await hfDir('llama', TINY, {});
    await rm(join(noTok, 'tokenizer.json'));
    await expect(readModelFiles(noTok)).rejects.toThrow(/Missing tokenizer: expected .*tokenizer\.json/);
    const noWeights = await hfDir('llama', TINY, {});
    await rm(join(noWeights, 'model.safetensors'));
    const e = await readModelFiles(noWeights).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModelNotFoundError);
    expect((e as Error).message).toMatch(/model\.safetensors or .*model\.safetensors\.index\.json/);
    const noShard = await hfDir('llama', TINY, { shards: 2 });
    await rm(join(noShard, 'model-00002-of-00002.safetensors'));
    await expect(readModelFiles(noShard)).rejects.toThrow(/Missing shard: .*model-00002-of-00002\.safetensors/);
  });

  it('unsupported architectures, unsupported dtypes, corrupt config and mismatched shapes', async () => {
    const gemma = await hfDir('llama', TINY, { config: { model_type: 'gemma', architectures: ['GemmaForCausalLM'] } });
    const e1 = await readModelFiles(gemma).catch((x: unknown) => x);
    expect(e1).toBeInstanceOf(UnsupportedArchitectureError);
    expect((e1 as Error).message).toMatch(/"gemma".*supported: llama, mistral, qwen2, qwen3/);
    await expect(readModelFiles(await hfDir('llama', TINY, { dtype: 'F64' }))).rejects.toThrow(UnsupportedDtypeError);
    await expect(readModelFiles(await hfDir('llama', TINY, { files: { 'config.json': '{ nope' } }))).rejects.toThrow(/not valid JSON/);
    const wrong = await hfDir('llama', TINY, { config: { intermediate_size: 10 } });
    await expect(readModelFiles(wrong)).rejects.toThrow(/"blk.0.ffn_gate.weight" has shape \[12, 8\], expected \[10, 8\]/);
    const missingBias = await hfDir('qwen2', TINY, {});
    await expect(readModelFiles(missingBias)).rejects.toThrow(/missing tensor "blk.0.attn_q.bias"/);
    const mlpBias = await hfDir('llama', TINY, {});
    await writeFile(
      join(mlpBias, 'model.safetensors'),
      buildSafetensors(
        Object.fromEntries([
          ...modelTensors(TINY, {}).map(([name, shape]): [string, SafetensorsEntry] => [hfName(name), { dtype: 'F32', shape }]),
          ['model.layers.0.mlp.down_proj.bias', { dtype: 'F32', shape: [TINY.hidden] }],
        ]),
      ),
    );
    await expect(readModelFiles(mlpBias)).rejects.toThrow(/"blk.0.ffn_down.bias": biases other than qwen2-style/);
    const yarn = await hfDir('qwen3', TINY, { qkNorm: true, config: { rope_scaling: { rope_type: 'yarn', factor: 4 } } });
    await expect(readModelFiles(yarn)).rejects.toThrow(UnsupportedArchitectureError);
  });
});
