// Turns a model on disk (a .gguf file or an HF-format directory) into the normalised ModelSpec the
// native engine loads, plus what the tokenizer and chat template need. Headers only: weights stay on
// disk for the native side to memory-map.
import type { Stats } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  CorruptModelError,
  ModelNotFoundError,
  UnsupportedArchitectureError,
  UnsupportedDtypeError,
} from './errors.js';
import { assertFileOrDirectory } from './model-path-kind.js';
import { GGML_TYPES, GgmlType, ggmlTypeName, ggufArray, ggufNumber, ggufString, readGguf, GGUF_MAGIC, type GgufFile, type GgufValue } from './gguf.js';
import {
  SUPPORTED_ARCHITECTURES,
  type Architecture,
  type ModelConfig,
  type ModelSpec,
  type RopeScaling,
  type TensorDesc,
  type WeightDType,
} from './model-spec.js';
import { readSafetensorsHeader, SAFETENSORS_SUPPORTED_DTYPES, type SafetensorsHeader } from './safetensors.js';

export interface GenerationConfig {
  bosTokenId?: number;
  /** Every id that ends generation (generation_config's list, or the GGUF eos/eot/eom ids). */
  eosTokenIds: number[];
}

export type TokenizerSource =
  | { kind: 'hf-json'; tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> }
  | { kind: 'gguf'; metadata: Record<string, GgufValue> };

export interface ModelFiles {
  /** Absolute path of the .gguf file or the HF directory. */
  path: string;
  format: 'gguf' | 'hf';
  spec: ModelSpec;
  chatTemplate?: string;
  generationConfig: GenerationConfig;
  tokenizerSource: TokenizerSource;
  gguf?: GgufFile;
}

const NO_ROPE_SCALING: RopeScaling = { type: '', factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 };
const SUPPORTED_LIST = SUPPORTED_ARCHITECTURES.join(', ');

export async function readModelFiles(pathOrDir: string): Promise<ModelFiles> {
  const path = resolve(pathOrDir);
  let stats: Stats;
  try {
    stats = await stat(path);
  } catch {
    throw new ModelNotFoundError(
      `Model not found: ${path} does not exist. Expected a .gguf file or an HF-format directory (config.json, model.safetensors, tokenizer.json).`,
    );
  }
  assertFileOrDirectory(path, stats);
  const isDir = stats.isDirectory();
  if (isDir) {
    const single = await loneGgufIn(path);
    return single ? readGgufModel(single) : readHfDirectory(path);
  }
  if (path.toLowerCase().endsWith('.gguf') || (await startsWithGgufMagic(path))) return readGgufModel(path);
  throw new ModelNotFoundError(
    `Not a model: ${path} is neither a .gguf file nor a directory. For HF models pass the directory holding config.json, model.safetensors and tokenizer.json.`,
  );
}

/** A directory without config.json that holds exactly one .gguf file means that file. */
async function loneGgufIn(dir: string): Promise<string | undefined> {
  if (await fileExists(join(dir, 'config.json'))) return undefined;
  const ggufs = (await readdir(dir)).filter((f) => f.toLowerCase().endsWith('.gguf'));
  if (ggufs.length === 1) {
    // The file the directory stands for gets the same check as a path given directly.
    const only = join(dir, ggufs[0]!);
    assertFileOrDirectory(only, await stat(only));
    return only;
  }
  if (ggufs.length > 1) {
    throw new ModelNotFoundError(`${dir} holds several GGUF files (${ggufs.join(', ')}); pass the path of the one to load`);
  }
  return undefined;
}

async function startsWithGgufMagic(path: string): Promise<boolean> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new ModelNotFoundError(`Model file ${path} cannot be read (${(err as Error).message})`, { cause: err });
  }
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    return bytesRead === 4 && b.readUInt32LE(0) === GGUF_MAGIC;
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------
// GGUF

const GGUF_DTYPES: Readonly<Record<number, WeightDType>> = {
  [GgmlType.F32]: 'f32',
  [GgmlType.F16]: 'f16',
  [GgmlType.BF16]: 'bf16',
};

async function readGgufModel(path: string): Promise<ModelFiles> {
  const gguf = await readGguf(path);
  const archName = ggufString(gguf, 'general.architecture');
  if (archName === undefined) throw new CorruptModelError(`GGUF file ${path} has no general.architecture metadata`);
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(archName)) {
    throw new UnsupportedArchitectureError(`Unsupported architecture "${archName}" in ${path}; supported: ${SUPPORTED_LIST}`);
  }
  const arch = archName as Architecture;
  const key = (k: string) => `${arch}.${k}`;
  const required = (k: string): number => {
    const v = ggufNumber(gguf, key(k));
    if (v === undefined) throw new CorruptModelError(`GGUF file ${path} lacks required metadata "${key(k)}"`);
    if (!(v > 0)) throw new CorruptModelError(`GGUF file ${path}: metadata "${key(k)}" = ${v} must be positive`);
    return v;
  };

  const tensors: TensorDesc[] = gguf.tensors.map((t) => {
    const dtype = GGUF_DTYPES[t.type];
    if (!dtype) {
      throw new UnsupportedDtypeError(
        `GGUF file ${path}: tensor "${t.name}": type ${ggmlTypeName(t.type)} is not supported yet` +
          `${GGML_TYPES[t.type]?.quantized ? ' (quantized GGUF comes later)' : ''}; supported: F32, F16, BF16`,
      );
    }
    return { name: t.name, dtype, shape: [...t.dims].reverse(), fileIndex: 0, offset: t.offset, nbytes: t.nbytes };
  });
  const byName = new Map(tensors.map((t) => [t.name, t]));

  const hidden = required('embedding_length');
  const nHeads = required('attention.head_count');
  const headDim = ggufNumber(gguf, key('attention.key_length')) ?? hidden / nHeads;
  const tokens = ggufArray(gguf, 'tokenizer.ggml.tokens');
  const embd = byName.get('token_embd.weight');
  const config: ModelConfig = {
    arch,
    nLayers: required('block_count'),
    hidden,
    nHeads,
    nKvHeads: ggufNumber(gguf, key('attention.head_count_kv')) ?? nHeads,
    headDim,
    ffn: required('feed_forward_length'),
    vocab: embd?.shape[0] ?? ggufNumber(gguf, key('vocab_size')) ?? tokens?.length ?? 0,
    contextLength: ggufNumber(gguf, key('context_length')) ?? 2048,
    rmsEps: ggufNumber(gguf, key('attention.layer_norm_rms_epsilon')) ?? 1e-5,
    ropeTheta: ggufNumber(gguf, key('rope.freq_base')) ?? 10000,
    ropeDim: ggufNumber(gguf, key('rope.dimension_count')) ?? headDim,
    ropeStyle: arch === 'llama' || arch === 'mistral' ? 'interleaved' : 'half-split',
    ropeScaling: ggufRopeScaling(gguf, arch),
    qkvBias: byName.has('blk.0.attn_q.bias'),
    qkNorm: byName.has('blk.0.attn_q_norm.weight'),
    tiedEmbeddings: !byName.has('output.weight'),
  };
  const spec: ModelSpec = { format: 'gguf', config, files: [path], tensors };
  validateSpec(spec, path);

  const eosIds = ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id']
    .map((k) => ggufNumber(gguf, k))
    .filter((id): id is number => id !== undefined && id >= 0 && id < config.vocab);
  const bos = ggufNumber(gguf, 'tokenizer.ggml.bos_token_id');
  return {
    path,
    format: 'gguf',
    spec,
    chatTemplate: ggufString(gguf, 'tokenizer.chat_template'),
    generationConfig: {
      bosTokenId: bos !== undefined && bos >= 0 && bos < config.vocab ? bos : undefined,
      eosTokenIds: [...new Set(eosIds)],
    },
    tokenizerSource: { kind: 'gguf', metadata: gguf.metadata },
    gguf,
  };
}

function ggufRopeScaling(gguf: GgufFile, arch: string): RopeScaling {
  const type = ggufString(gguf, `${arch}.rope.scaling.type`);
  if (type === undefined || type === 'none') return { ...NO_ROPE_SCALING };
  const factor = ggufNumber(gguf, `${arch}.rope.scaling.factor`) ?? 1;
  const original = ggufNumber(gguf, `${arch}.rope.scaling.original_context_length`) ?? NO_ROPE_SCALING.originalMaxPosition;
  if (type === 'linear') return { ...NO_ROPE_SCALING, type: 'linear', factor, originalMaxPosition: original };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor,
      lowFreqFactor: ggufNumber(gguf, `${arch}.rope.scaling.low_freq_factor`) ?? 1,
      highFreqFactor: ggufNumber(gguf, `${arch}.rope.scaling.high_freq_factor`) ?? 4,
      originalMaxPosition: original,
    };
  }
  throw new UnsupportedArchitectureError(`GGUF file ${gguf.path}: rope scaling "${type}" is not supported; supported: none, linear, llama3`);
}

// ---------------------------------------------------------------------------------------------
// HF directory

const HF_ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  llama: 'llama',
  LlamaForCausalLM: 'llama',
  mistral: 'mistral',
  MistralForCausalLM: 'mistral',
  qwen2: 'qwen2',
  Qwen2ForCausalLM: 'qwen2',
  qwen3: 'qwen3',
  Qwen3ForCausalLM: 'qwen3',
};

const HF_LAYER_TENSORS: Readonly<Record<string, string>> = {
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'self_attn.q_norm': 'attn_q_norm',
  'self_attn.k_norm': 'attn_k_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
  input_layernorm: 'attn_norm',
  post_attention_layernorm: 'ffn_norm',
};

const HF_GLOBAL_TENSORS: Readonly<Record<string, string>> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

/** Maps an HF checkpoint tensor name to its GGUF-convention name, or undefined for tensors the engine does not use. */
export function hfTensorName(name: string): string | undefined {
  if (name in HF_GLOBAL_TENSORS) return HF_GLOBAL_TENSORS[name];
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) return undefined;
  const mapped = HF_LAYER_TENSORS[m[2]];
  return mapped === undefined ? undefined : `blk.${Number(m[1])}.${mapped}.${m[3]}`;
}

type Json = Record<string, unknown>;

/** tokenizer.json of the largest vocabularies is tens of MB; a JSON file far beyond that is not a model file. */
const MAX_JSON_BYTES = 512 * 1024 * 1024;

async function readJsonFile(path: string, what: string, required: true): Promise<Json>;
async function readJsonFile(path: string, what: string, required: false): Promise<Json | undefined>;
async function readJsonFile(path: string, what: string, required: boolean): Promise<Json | undefined> {
  let text: string;
  try {
    const { size } = await stat(path);
    if (size > MAX_JSON_BYTES) throw new CorruptModelError(`${what} ${path} is ${size} bytes, more than any real one (limit ${MAX_JSON_BYTES})`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof CorruptModelError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    throw new ModelNotFoundError(`Missing ${what}: expected ${path}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CorruptModelError(`${what} ${path} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CorruptModelError(`${what} ${path} is not a JSON object`);
  }
  return parsed as Json;
}

async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function num(cfg: Json, k: string, file: string): number | undefined {
  const v = cfg[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new CorruptModelError(`${file}: "${k}" should be a number, found ${JSON.stringify(v)}`);
  return v;
}

function requiredPositiveInt(cfg: Json, k: string, file: string): number {
  const v = num(cfg, k, file);
  if (v === undefined) throw new CorruptModelError(`${file} lacks required field "${k}"`);
  if (!Number.isInteger(v) || v <= 0) throw new CorruptModelError(`${file}: "${k}" = ${v} must be a positive integer`);
  return v;
}

function hfArchitecture(cfg: Json, file: string): Architecture {
  const candidates: string[] = [];
  if (typeof cfg.model_type === 'string') candidates.push(cfg.model_type);
  if (Array.isArray(cfg.architectures)) candidates.push(...cfg.architectures.filter((a): a is string => typeof a === 'string'));
  for (const c of candidates) {
    const arch = HF_ARCHITECTURES[c];
    if (arch) return arch;
  }
  throw new UnsupportedArchitectureError(
    `Unsupported architecture ${candidates.length ? candidates.map((c) => `"${c}"`).join(' / ') : '(none given)'} in ${file}; supported: ${SUPPORTED_LIST} ` +
      `(LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)`,
  );
}

function hfRopeScaling(cfg: Json, file: string): RopeScaling {
  const rs = cfg.rope_scaling;
  if (rs === undefined || rs === null) return { ...NO_ROPE_SCALING };
  if (typeof rs !== 'object' || Array.isArray(rs)) throw new CorruptModelError(`${file}: rope_scaling should be an object`);
  const r = rs as Json;
  const type = (r.rope_type ?? r.type) as unknown;
  if (type === undefined || type === 'default') return { ...NO_ROPE_SCALING };
  const factor = num(r, 'factor', `${file} rope_scaling`) ?? 1;
  const original =
    num(r, 'original_max_position_embeddings', `${file} rope_scaling`) ?? NO_ROPE_SCALING.originalMaxPosition;
  if (type === 'linear') return { ...NO_ROPE_SCALING, type: 'linear', factor, originalMaxPosition: original };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor,
      lowFreqFactor: num(r, 'low_freq_factor', `${file} rope_scaling`) ?? 1,
      highFreqFactor: num(r, 'high_freq_factor', `${file} rope_scaling`) ?? 4,
      originalMaxPosition: original,
    };
  }
  throw new UnsupportedArchitectureError(`${file}: rope_scaling type ${JSON.stringify(type)} is not supported; supported: linear, llama3`);
}

/** The safetensors files of a checkpoint: the index's shards, or the single model.safetensors. */
async function hfWeightFiles(dir: string): Promise<{ files: string[]; weightMap?: Record<string, string> }> {
  const indexPath = join(dir, 'model.safetensors.index.json');
  const index = await readJsonFile(indexPath, 'safetensors index', false);
  if (index) {
    const map = index.weight_map;
    if (map === null || typeof map !== 'object' || Array.isArray(map)) {
      throw new CorruptModelError(`safetensors index ${indexPath} has no weight_map object`);
    }
    const weightMap: Record<string, string> = {};
    for (const [name, file] of Object.entries(map as Json)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file.startsWith('.')) {
        throw new CorruptModelError(`safetensors index ${indexPath}: weight_map["${name}"] = ${JSON.stringify(file)} is not a shard file name`);
      }
      weightMap[name] = file;
    }
    const files = [...new Set(Object.values(weightMap))].sort().map((f) => join(dir, f));
    for (const f of files) {
      if (!(await fileExists(f))) throw new ModelNotFoundError(`Missing shard: ${f} (listed in ${indexPath})`);
    }
    return { files, weightMap };
  }
  const single = join(dir, 'model.safetensors');
  if (await fileExists(single)) return { files: [single] };
  throw new ModelNotFoundError(
    `Missing weights: expected ${single} or ${indexPath} with its model-XXXXX-of-YYYYY.safetensors shards in ${dir}`,
  );
}

function hfChatTemplate(tokenizerConfig: Json, file: string): string | undefined {
  const ct = tokenizerConfig.chat_template;
  if (ct === undefined || ct === null) return undefined;
  if (typeof ct === 'string') return ct;
  if (Array.isArray(ct)) {
    const named = ct.filter(
      (e): e is { name: string; template: string } =>
        e !== null && typeof e === 'object' && typeof (e as Json).name === 'string' && typeof (e as Json).template === 'string',
    );
    return (named.find((e) => e.name === 'default') ?? named[0])?.template;
  }
  throw new CorruptModelError(`${file}: chat_template should be a string or a list of {name, template}`);
}

/** A token given as a string or as an AddedToken-style {content}. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

function tokenIdOf(tokenizerJson: Json, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const added = tokenizerJson.added_tokens;
  if (Array.isArray(added)) {
    for (const t of added) if (t && typeof t === 'object' && (t as Json).content === text && typeof (t as Json).id === 'number') return (t as Json).id as number;
  }
  const model = tokenizerJson.model as Json | undefined;
  const vocab = model?.vocab;
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) {
    const id = (vocab as Json)[text];
    if (typeof id === 'number') return id;
  }
  if (Array.isArray(vocab)) {
    const i = vocab.findIndex((e) => Array.isArray(e) && e[0] === text);
    if (i >= 0) return i;
  }
  return undefined;
}

function idList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

async function readHfDirectory(dir: string): Promise<ModelFiles> {
  const configPath = join(dir, 'config.json');
  const cfg = await readJsonFile(configPath, 'model config', true);
  const arch = hfArchitecture(cfg, configPath);
  const quant = cfg.quantization_config as Json | undefined;
  if (quant && typeof quant === 'object') {
    throw new UnsupportedDtypeError(
      `${configPath} describes a quantized checkpoint (quant_method ${JSON.stringify(quant.quant_method ?? 'unknown')}), which is not supported; supported weights: F32, F16, BF16`,
    );
  }
  const tokenizerPath = join(dir, 'tokenizer.json');
  const tokenizerJson = await readJsonFile(tokenizerPath, 'tokenizer', true);
  const tokenizerConfigPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = (await readJsonFile(tokenizerConfigPath, 'tokenizer config', false)) ?? {};
  const generation = (await readJsonFile(join(dir, 'generation_config.json'), 'generation config', false)) ?? {};

  const { files, weightMap } = await hfWeightFiles(dir);
  const headers: SafetensorsHeader[] = [];
  for (const f of files) headers.push(await readSafetensorsHeader(f));

  const tieConfig = cfg.tie_word_embeddings === true;
  const tensors: TensorDesc[] = [];
  const seen = new Map<string, string>();
  headers.forEach((h, fileIndex) => {
    for (const t of h.tensors) {
      if (weightMap && weightMap[t.name] !== undefined && join(dir, weightMap[t.name]) !== h.path) {
        throw new CorruptModelError(`Tensor "${t.name}" is in ${h.path} but the index places it in ${weightMap[t.name]}`);
      }
      const name = hfTensorName(t.name);
      if (name === undefined || (name === 'output.weight' && tieConfig)) continue;
      if (seen.has(name)) throw new CorruptModelError(`Tensor "${t.name}" appears twice (${seen.get(name)} and ${h.path})`);
      seen.set(name, h.path);
      tensors.push({
        name,
        dtype: SAFETENSORS_SUPPORTED_DTYPES[t.dtype].dtype,
        shape: t.shape,
        fileIndex,
        offset: t.offset,
        nbytes: t.nbytes,
      });
    }
  });
  if (weightMap) {
    const present = new Set(headers.flatMap((h) => h.tensors.map((t) => t.name)));
    for (const name of Object.keys(weightMap)) {
      if (!present.has(name)) throw new CorruptModelError(`Tensor "${name}" is listed in the safetensors index but missing from ${weightMap[name]}`);
    }
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));

  const hidden = requiredPositiveInt(cfg, 'hidden_size', configPath);
  const nHeads = requiredPositiveInt(cfg, 'num_attention_heads', configPath);
  const headDim = num(cfg, 'head_dim', configPath) ?? hidden / nHeads;
  const config: ModelConfig = {
    arch,
    nLayers: requiredPositiveInt(cfg, 'num_hidden_layers', configPath),
    hidden,
    nHeads,
    nKvHeads: num(cfg, 'num_key_value_heads', configPath) ?? nHeads,
    headDim,
    ffn: requiredPositiveInt(cfg, 'intermediate_size', configPath),
    vocab: byName.get('token_embd.weight')?.shape[0] ?? num(cfg, 'vocab_size', configPath) ?? 0,
    contextLength: num(cfg, 'max_position_embeddings', configPath) ?? 2048,
    rmsEps: num(cfg, 'rms_norm_eps', configPath) ?? 1e-6,
    ropeTheta: num(cfg, 'rope_theta', configPath) ?? 10000,
    ropeDim: headDim,
    ropeStyle: 'half-split',
    ropeScaling: hfRopeScaling(cfg, configPath),
    qkvBias: arch === 'qwen2' || cfg.attention_bias === true,
    qkNorm: arch === 'qwen3',
    tiedEmbeddings: tieConfig || !byName.has('output.weight'),
  };
  const spec: ModelSpec = { format: 'hf', config, files, tensors };
  validateSpec(spec, dir);

  const chatTemplate =
    (await readTextIfExists(join(dir, 'chat_template.jinja'))) ??
    hfChatTemplate((await readJsonFile(join(dir, 'chat_template.json'), 'chat template', false)) ?? {}, join(dir, 'chat_template.json')) ??
    hfChatTemplate(tokenizerConfig, tokenizerConfigPath);

  const eosFromGeneration = idList(generation.eos_token_id);
  const eosTokenIds = eosFromGeneration.length
    ? eosFromGeneration
    : idList(cfg.eos_token_id).length
      ? idList(cfg.eos_token_id)
      : idList(tokenIdOf(tokenizerJson, tokenText(tokenizerConfig.eos_token)));
  const bosTokenId =
    idList(generation.bos_token_id)[0] ?? idList(cfg.bos_token_id)[0] ?? tokenIdOf(tokenizerJson, tokenText(tokenizerConfig.bos_token));

  return {
    path: dir,
    format: 'hf',
    spec,
    chatTemplate,
    generationConfig: { bosTokenId, eosTokenIds: [...new Set(eosTokenIds)] },
    tokenizerSource: { kind: 'hf-json', tokenizerJson, tokenizerConfig },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared checks

/** Checks that every tensor the forward pass needs exists with the shape the config implies. */
function validateSpec(spec: ModelSpec, where: string): void {
  const c = spec.config;
  const dims: Array<[string, number]> = [
    ['nLayers', c.nLayers],
    ['hidden', c.hidden],
    ['nHeads', c.nHeads],
    ['nKvHeads', c.nKvHeads],
    ['headDim', c.headDim],
    ['ffn', c.ffn],
    ['vocab', c.vocab],
    ['contextLength', c.contextLength],
  ];
  for (const [k, v] of dims) {
    if (!Number.isInteger(v) || v <= 0 || v > 2 ** 31 - 1) throw new CorruptModelError(`Model ${where}: ${k} = ${v} is not a positive integer`);
  }
  if (c.nHeads % c.nKvHeads !== 0) {
    throw new CorruptModelError(`Model ${where}: ${c.nHeads} attention heads are not a multiple of ${c.nKvHeads} KV heads`);
  }
  if (!Number.isInteger(c.ropeDim) || c.ropeDim <= 0 || c.ropeDim > c.headDim || c.ropeDim % 2 !== 0) {
    throw new CorruptModelError(`Model ${where}: rope dimension ${c.ropeDim} must be even and at most head_dim ${c.headDim}`);
  }
  if (!(c.rmsEps > 0) || !(c.ropeTheta > 0)) throw new CorruptModelError(`Model ${where}: rms eps and rope theta must be positive`);

  const byName = new Map(spec.tensors.map((t) => [t.name, t]));
  // Biases the forward pass has no place for would be silently ignored: refuse them instead.
  const extraBias = spec.tensors.find(
    (t) => /^blk\.\d+\.(attn_output|ffn_gate|ffn_up|ffn_down)\.bias$/.test(t.name) || (!c.qkvBias && /^blk\.\d+\.attn_[qkv]\.bias$/.test(t.name)),
  );
  if (extraBias) {
    throw new UnsupportedArchitectureError(
      `Model ${where} has tensor "${extraBias.name}": biases other than qwen2-style q/k/v biases are not supported`,
    );
  }
  const expect = (name: string, shape: number[]) => {
    const t = byName.get(name);
    if (!t) throw new CorruptModelError(`Model ${where} is missing tensor "${name}"`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new CorruptModelError(`Model ${where}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  };
  const q = c.nHeads * c.headDim;
  const kv = c.nKvHeads * c.headDim;
  expect('token_embd.weight', [c.vocab, c.hidden]);
  expect('output_norm.weight', [c.hidden]);
  if (!c.tiedEmbeddings) expect('output.weight', [c.vocab, c.hidden]);
  for (let l = 0; l < c.nLayers; l++) {
    const b = `blk.${l}`;
    expect(`${b}.attn_norm.weight`, [c.hidden]);
    expect(`${b}.attn_q.weight`, [q, c.hidden]);
    expect(`${b}.attn_k.weight`, [kv, c.hidden]);
    expect(`${b}.attn_v.weight`, [kv, c.hidden]);
    expect(`${b}.attn_output.weight`, [c.hidden, q]);
    expect(`${b}.ffn_norm.weight`, [c.hidden]);
    expect(`${b}.ffn_gate.weight`, [c.ffn, c.hidden]);
    expect(`${b}.ffn_up.weight`, [c.ffn, c.hidden]);
    expect(`${b}.ffn_down.weight`, [c.hidden, c.ffn]);
    if (c.qkvBias) {
      expect(`${b}.attn_q.bias`, [q]);
      expect(`${b}.attn_k.bias`, [kv]);
      expect(`${b}.attn_v.bias`, [kv]);
    }
    if (c.qkNorm) {
      expect(`${b}.attn_q_norm.weight`, [c.headDim]);
      expect(`${b}.attn_k_norm.weight`, [c.headDim]);
    }
  }
}
