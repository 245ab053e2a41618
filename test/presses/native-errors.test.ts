// The native press entry rejects bad configs with typed errors before any work, whatever the TS side let
// through (configs built by hand, files changed after the press was created).
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { callNative } from '../../engine/native.js';
import { CorruptModelError, InvalidArgumentError, ModelNotFoundError } from '../../engine/errors.js';
import { makeLayerInputs } from '../reference/presses/layer-inputs.js';
import { makeTempDir, writeF32Safetensors, writeJson } from './artefact-files.js';
import { pressAddon } from './native-harness.js';

const tmp = makeTempDir('presskv-native-errors-');
afterAll(() => tmp.cleanup());

function raw(config: unknown, n = 24) {
  return callNative(() => pressAddon!.scorePressLayer(config, makeLayerInputs(90, { n })));
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe.skipIf(!pressAddon)('native press config errors', () => {
  it('unknown press, bad ratio, non-scorer inside a scorer-only wrapper, window longer than the context', () => {
    expect(errorOf(() => raw({ name: 'NopePress' }))).toBeInstanceOf(InvalidArgumentError);
    for (const r of [-0.1, 1, 2]) expect(errorOf(() => raw({ name: 'KnormPress', options: { compressionRatio: r } }))).toBeInstanceOf(InvalidArgumentError);
    for (const wrapper of ['AdaKVPress', 'KeyRerotationPress', 'ChunkKVPress', 'CriticalKVPress', 'DMSPress']) {
      const err = errorOf(() => raw({ name: wrapper, options: { compressionRatio: 0.5, threshold: 0 }, press: { name: 'ThinKPress', options: { keyChannelCompressionRatio: 0.5 } } }));
      expect(err, wrapper).toBeInstanceOf(InvalidArgumentError);
    }
    expect(errorOf(() => raw({ name: 'SnapKVPress', options: { compressionRatio: 0.5, windowSize: 30 } }))).toBeInstanceOf(InvalidArgumentError);
  });

  it('missing artefact → not found; malformed → corrupt file', async () => {
    const missing = join(tmp.dir, 'missing.safetensors');
    expect(errorOf(() => raw({ name: 'QFilterPress', options: { compressionRatio: 0.5, artefactPath: missing } }))).toBeInstanceOf(ModelNotFoundError);
    const garbage = writeJson(join(tmp.dir, 'garbage.safetensors'), 'not safetensors');
    expect(errorOf(() => raw({ name: 'QFilterPress', options: { compressionRatio: 0.5, artefactPath: garbage } }))).toBeInstanceOf(CorruptModelError);
    const wrongShape = await writeF32Safetensors(join(tmp.dir, 'qf.safetensors'), { q_filters: { shape: [2, 3, 8], data: new Float32Array(48) } });
    expect(errorOf(() => raw({ name: 'QFilterPress', options: { compressionRatio: 0.5, artefactPath: wrongShape } }))).toBeInstanceOf(CorruptModelError);
    const badDuo = writeJson(join(tmp.dir, 'duo.json'), { sinkSize: 2 });
    expect(errorOf(() => raw({ name: 'DuoAttentionPress', options: { headCompressionRatio: 0.5, artefactPath: badDuo } }))).toBeInstanceOf(CorruptModelError);
  });

  it('the entry stays usable after an error', () => {
    expect(() => raw({ name: 'NopePress' })).toThrow();
    expect(raw({ name: 'KnormPress', options: { compressionRatio: 0.5 } }).kept[0].length).toBe(12);
  });
});
