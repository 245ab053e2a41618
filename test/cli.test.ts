// The presskv command: the stories260K acceptance run through bin/presskv.js (llama.cpp's golden ids),
// tokenize against the golden tokenizer cases, info, make-model, and exit codes for bad input.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bin, cli } from './helpers/cli.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const shared = path.resolve(repoRoot, '..', 'shared');
const storiesPath = path.join(shared, 'models', 'stories260K.gguf');
const goldenPath = path.join(shared, 'models', 'golden-stories260K.json');
const haveShared = existsSync(storiesPath) && existsSync(goldenPath);
if (!haveShared) console.warn(`[cli.test] ${shared} is absent: skipping the stories260K acceptance tests`);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'presskv-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));


describe.skipIf(!haveShared)('presskv on stories260K', () => {
  const golden = haveShared ? JSON.parse(readFileSync(goldenPath, 'utf8')) : undefined;

  it('generate --raw --temperature 0 --json gives llama.cpp golden200 ids', async () => {
    const relative = path.relative(repoRoot, storiesPath);
    const r = await bin('generate', '--model', relative, '--prompt', 'Once upon a time', '--raw', '--max-tokens', '200', '--temperature', '0', '--json');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!);
    expect(result.promptTokenIds).toEqual(golden.golden32.promptIdsWithBos);
    expect(result.generatedTokenIds).toEqual(golden.golden200.ids);
    expect(result.text).toBe(golden.golden200.text);
    expect(result.usage).toEqual({ inputTokens: 5, outputTokens: 200, totalTokens: 205 });
    for (const key of ['prefillMs', 'decodeMs', 'prefillTokensPerSecond', 'decodeTokensPerSecond']) {
      expect(result.timings[key]).toBeGreaterThan(0);
    }
    expect(result.kv.tokens).toBe(205);
    expect(result.kv.bytes).toBeGreaterThan(0);
  });

  it('streams text to stdout and timings to stderr by default; --context @file is prepended', async () => {
    const contextFile = path.join(tmp, 'context.txt');
    writeFileSync(contextFile, 'Lily and Ben went to the park.');
    const plain = await cli('generate', '--model', storiesPath, '--prompt', 'Once upon a time', '--raw', '--max-tokens', '32', '--temperature', '0');
    expect(plain.code, plain.err).toBe(0);
    expect(plain.out).toBe(`${golden.golden32.generatedText}\n`);
    expect(plain.err).toMatch(/prefill 5 tokens .* decode 32 tokens/);

    const withContext = await cli('generate', '--model', storiesPath, '--context', `@${contextFile}`, '--prompt', 'Once upon a time', '--raw', '--max-tokens', '4', '--temperature', '0', '--json');
    const parsed = JSON.parse(withContext.out);
    const contextIds = golden.tokenizer.find((c: { text: string }) => c.text === 'Lily and Ben went to the park.').ids;
    expect(parsed.promptTokenIds).toEqual([1, ...contextIds, ...golden.golden32.promptIdsWithBos.slice(1)]);
  });

  it('tokenize gives the golden tokenizer ids', async () => {
    for (const c of golden.tokenizer as { text: string; ids: number[]; pieces: string[] }[]) {
      const r = await cli('tokenize', '--model', storiesPath, '--text', c.text, '--json');
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toEqual({ ids: c.ids, pieces: c.pieces, count: c.ids.length });
    }
    const special = await cli('tokenize', '--model', storiesPath, '--text', 'Once upon a time', '--special', '--json');
    expect(JSON.parse(special.out).ids).toEqual(golden.golden32.promptIdsWithBos);
  });

  it('info describes the model', async () => {
    const r = await cli('info', '--model', storiesPath, '--json');
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out);
    expect(info.format).toBe('gguf');
    expect(info.config).toMatchObject({ arch: 'llama', nLayers: 5, hidden: 64, nHeads: 8, nKvHeads: 4, headDim: 8, vocab: 512 });
    expect(info.weightDtypes).toEqual(['f32']);
    expect(info.bosTokenId).toBe(1);
    expect(info.eosTokenIds).toEqual([2]);
    expect(info.chatTemplate.present).toBe(false);
    const human = await cli('info', '--model', storiesPath);
    expect(human.out).toMatch(/architecture\s+llama/);
  });

  it('bad values are usage errors (exit 2); model errors exit 1 with the typed message', async () => {
    const usage = [
      ['generate', '--prompt', 'x'],
      ['generate', '--model', storiesPath],
      ['generate', '--model', storiesPath, '--prompt', 'x', '--temperature=-1'],
      ['generate', '--model', storiesPath, '--prompt', 'x', '--top-p', '0'],
      ['generate', '--model', storiesPath, '--prompt', 'x', '--max-tokens', '2.5'],
      ['generate', '--model', storiesPath, '--prompt', 'x', '--bogus'],
      ['tokenize', '--model', storiesPath],
      ['make-model', '--arch', 'gpt2', '--shape', 'tiny', '--dtype', 'f32', '--format', 'gguf', '--seed', '1', '--out', path.join(tmp, 'x.gguf')],
      ['nonsense'],
    ];
    for (const argv of usage) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/presskv/);
    }
    const missing = await cli('generate', '--model', path.join(tmp, 'missing.gguf'), '--prompt', 'x');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/No model at .*missing\.gguf/);
    const corrupt = path.join(tmp, 'corrupt.gguf');
    writeFileSync(corrupt, 'GGUF not really');
    const bad = await cli('info', '--model', corrupt);
    expect(bad.code).toBe(1);
    // The process (and the engine) still works afterwards.
    const again = await cli('tokenize', '--model', storiesPath, '--text', 'Hello world', '--json');
    expect(again.code).toBe(0);
  });
});

describe('presskv make-model', () => {
  it('writes a model that info and generate can read', async () => {
    const out = path.join(tmp, 'tiny-qwen3.gguf');
    const made = await cli('make-model', '--arch', 'qwen3', '--shape', 'tiny', '--dtype', 'f32', '--format', 'gguf', '--seed', '7', '--out', out, '--json');
    expect(made.code, made.err).toBe(0);
    expect(JSON.parse(made.out).path).toBe(out);
    const info = JSON.parse((await cli('info', '--model', out, '--json')).out);
    expect(info.config.arch).toBe('qwen3');
    expect(info.chatTemplate).toEqual({ present: true, tools: true, thinking: true });
    const gen = await cli('generate', '--model', out, '--prompt', 'hi', '--max-tokens', '5', '--temperature', '0', '--json');
    expect(gen.code, gen.err).toBe(0);
    const result = JSON.parse(gen.out);
    expect(result.generatedTokenIds.length).toBeGreaterThan(0);
    expect(result.generatedTokenIds.length).toBeLessThanOrEqual(5);
  });
});
