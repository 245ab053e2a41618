// presskv generate --press: the context (--context) is compressed, the prompt is not; --json reports the
// KV figures per (layer, kv-head); wrappers take their inner press from --press-options; bad press flags
// fail with a typed message and exit code before the model is loaded.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { Model } from '../engine/index.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const storiesPath = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K.gguf');
const haveStories = existsSync(storiesPath);
if (!haveStories) console.warn(`[cli-press.test] ${storiesPath} is absent: skipping`);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'presskv-cli-press-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog Max. ' +
  'One day, Lily saw a big red ball under a tree. She wanted to play with it, but the ball was stuck. ' +
  'Lily asked her mom for help, and her mom smiled and said yes. They went to the tree together. ';

interface KvJson {
  tokens: number;
  tokensBefore: number;
  tokensAfter: number;
  slotsBefore: number;
  slotsAfter: number;
  bytesBefore: number;
  bytesAfter: number;
  perLayer: { layer: number; perHead: number[] }[];
}

describe.skipIf(!haveStories)('presskv generate --press on stories260K', () => {
  const contextFile = path.join(tmp, 'story.txt');
  writeFileSync(contextFile, STORY.repeat(8));
  const base = ['generate', '--model', storiesPath, '--context', `@${contextFile}`, '--prompt', ' Lily said', '--max-tokens', '8', '--temperature', '0', '--threads', '1', '--json'];
  let contextTokens = 0;
  let config: { nLayers: number; nKvHeads: number };

  it('the context file is at least 400 tokens', async () => {
    const model = await Model.load(storiesPath, { threads: 1 });
    contextTokens = model.tokenize(STORY.repeat(8)).length; // BOS + the text, as --context puts it in front
    config = model.info.config;
    model.dispose();
    expect(contextTokens).toBeGreaterThanOrEqual(400);
  });

  it('--press snapkv --compression-ratio 0.5 halves the context KV and leaves the question whole', async () => {
    const { code, out, err } = await cli(...base, '--press', 'snapkv', '--compression-ratio', '0.5');
    expect(err).toBe('');
    expect(code).toBe(0);
    const json = JSON.parse(out) as { kv: KvJson; press: string; generatedTokenIds: number[]; usage: { inputTokens: number } };
    const { kv } = json;
    const { nLayers, nKvHeads } = config;
    expect(json.press).toBe('SnapKVPress');
    // Tokens under the token names (as the server's tokens_before), slot totals under their own.
    expect(kv.tokensBefore).toBe(contextTokens);
    expect(kv.tokensAfter).toBe(contextTokens - Math.floor(contextTokens * 0.5));
    expect(kv.slotsBefore).toBe(contextTokens * nLayers * nKvHeads);
    expect(kv.slotsAfter).toBe(kv.tokensAfter * nLayers * nKvHeads);
    expect(kv.perLayer.map((l) => l.layer)).toEqual([...Array(nLayers).keys()]);
    for (const l of kv.perLayer) expect(l.perHead).toEqual(Array(nKvHeads).fill(contextTokens - Math.floor(contextTokens * 0.5)));
    const pageBytes = kv.bytesBefore / (nLayers * nKvHeads * Math.ceil(contextTokens / 64));
    expect(kv.bytesAfter).toBeLessThanOrEqual(0.5 * kv.bytesBefore + nLayers * nKvHeads * pageBytes);
    expect(json.generatedTokenIds).toHaveLength(8);
    // Every prompt token counts as input, the uncompressed question among them.
    const question = json.usage.inputTokens - contextTokens;
    expect(question).toBeGreaterThan(0);
    expect(kv.tokens).toBe(contextTokens + question + 8); // the last generated token stays pending
  });

  it('SnapKVPress by class name at ratio 0 reports nothing removed and answers as without --press', async () => {
    const plain = JSON.parse((await cli(...base)).out) as { generatedTokenIds: number[] };
    const { code, out } = await cli(...base, '--press', 'SnapKVPress', '--compression-ratio', '0');
    expect(code).toBe(0);
    const json = JSON.parse(out) as { kv: KvJson; generatedTokenIds: number[] };
    expect(json.kv.tokensAfter).toBe(json.kv.tokensBefore);
    expect(json.kv.bytesAfter).toBe(json.kv.bytesBefore);
    expect(json.generatedTokenIds).toEqual(plain.generatedTokenIds);
  });

  it('a wrapper: --press adakv with its inner press in --press-options', async () => {
    const { code, out, err } = await cli(...base, '--press', 'adakv', '--compression-ratio', '0.5', '--press-options', '{"press":{"name":"snapkv"}}');
    expect(err).toBe('');
    expect(code).toBe(0);
    const { kv, press } = JSON.parse(out) as { kv: KvJson; press: string };
    expect(press).toBe('AdaKVPress');
    // AdaKV moves the budget between heads of a layer: per-head counts differ, the total is the same cut.
    const { nLayers, nKvHeads } = config;
    const kept = contextTokens - Math.floor(contextTokens * 0.5);
    expect(kv.slotsAfter).toBeLessThanOrEqual(kept * nLayers * nKvHeads + nLayers * nKvHeads);
    expect(kv.slotsAfter).toBeLessThan(kv.slotsBefore);
    expect(kv.tokensBefore).toBe(contextTokens);
    expect(kv.perLayer.every((l) => l.perHead.length === nKvHeads)).toBe(true);
  });

  it('--press kvzip: the reconstruction prompts come from the model\'s tokenizer; one budget over all layers and heads', async () => {
    const { code, out, err } = await cli(...base, '--press', 'kvzip', '--compression-ratio', '0.5');
    expect(err).toBe('');
    expect(code).toBe(0);
    const { kv } = JSON.parse(out) as { kv: KvJson };
    const total = contextTokens * config.nLayers * config.nKvHeads;
    expect(kv.tokensBefore).toBe(contextTokens);
    expect(kv.slotsBefore).toBe(total);
    expect(kv.slotsAfter).toBe(total - Math.floor(total * 0.5));
  });

  it('--press finch is query-aware: context + question prefilled together, the question its window (kept whole)', async () => {
    const plain = JSON.parse((await cli(...base)).out) as { generatedTokenIds: number[]; usage: { inputTokens: number } };
    const question = plain.usage.inputTokens - contextTokens;
    const n = contextTokens + question;
    const { code, out, err } = await cli(...base, '--press', 'finch', '--compression-ratio', '0.5');
    expect(err).toBe('');
    expect(code).toBe(0);
    const { kv, press, generatedTokenIds } = JSON.parse(out) as { kv: KvJson; press: string; generatedTokenIds: number[] };
    expect(press).toBe('FinchPress');
    expect(kv.tokensBefore).toBe(n);
    expect(kv.slotsBefore).toBe(n * config.nLayers * config.nKvHeads);
    for (const l of kv.perLayer) expect(l.perHead).toEqual(Array(config.nKvHeads).fill(Math.floor(n * 0.5)));
    expect(kv.tokens).toBe(n + 8); // the question is in the sequence once: nothing was fed after the prefill
    expect(generatedTokenIds).toHaveLength(8);
    // At ratio 0 nothing is dropped and the answer is the uncompressed one: the question was not lost or doubled.
    const zero = JSON.parse((await cli(...base, '--press', 'finch', '--compression-ratio', '0')).out) as { generatedTokenIds: number[] };
    expect(zero.generatedTokenIds).toEqual(plain.generatedTokenIds);
  });

  it('bad press flags fail with a typed message before the model is loaded', async () => {
    const missing = ['generate', '--model', path.join(tmp, 'no-such-model.gguf'), '--context', 'x', '--prompt', 'y'];
    let r = await cli(...missing, '--press', 'snapkv', '--compression-ratio', '1');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/compressionRatio.*< 1/);
    r = await cli(...missing, '--press', 'no-such-press');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/unknown press "no-such-press"/);
    r = await cli(...missing, '--press', 'snapkv', '--press-options', '{not json');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--press-options is not JSON/);
    r = await cli(...missing, '--compression-ratio', '0.5');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/need --press/);
    r = await cli(...missing, '--press', 'snapkv', '--compression-ratio', 'half');
    expect(r.code).toBe(2);
    // None of these reached the model: a missing model file would have said so.
    expect(r.err).not.toMatch(/no-such-model/);
  });
});
