// The native press entry rejects bad configs with typed errors before any work. Options are the TS press
// classes' to check and default (engine/presses/): a hand-built config that skips them is an internal error,
// never a silently defaulted press. What only the native side can see still fails as the user's error: an
// unknown press, a wrapper around the wrong kind of press, a window longer than the context, an artefact
// file changed after the press was created.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { callNative } from '../../engine/native.js';
import { CorruptModelError, InternalError, InvalidArgumentError, ModelNotFoundError } from '../../engine/errors.js';
import { createPress, type PressSpec } from '../../engine/presses/index.js';
import { makeLayerInputs } from '../reference/presses/layer-inputs.js';
import { makeTempDir, writeF32Safetensors, writeJson } from './artefact-files.js';
import { pressAddon } from './native-harness.js';

const tmp = makeTempDir('presskv-native-errors-');
afterAll(() => tmp.cleanup());

function raw(config: unknown, n = 24) {
  return callNative(() => pressAddon!.scorePressLayer(config, makeLayerInputs(90, { n })));
}

/** The native config of a press built by its TS class: every option present, defaults filled in. */
const native = (spec: PressSpec) => createPress(spec).toNativeConfig();

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe.skipIf(!pressAddon)('native press config errors', () => {
  it('unknown press, non-scorer inside a scorer-only wrapper, window longer than the context', () => {
    expect(errorOf(() => raw({ name: 'NopePress' }))).toBeInstanceOf(InvalidArgumentError);
    const think = native({ name: 'think', keyChannelCompressionRatio: 0.5 });
    for (const wrapper of ['adakv', 'key-rerotation', 'chunkkv', 'critical-kv', 'dms']) {
      const config = { ...native({ name: wrapper, press: 'knorm', ...(wrapper === 'dms' ? { threshold: 0 } : {}) }), press: think };
      expect(errorOf(() => raw(config)), wrapper).toBeInstanceOf(InvalidArgumentError);
    }
    expect(errorOf(() => raw(native({ name: 'snapkv', compressionRatio: 0.5, windowSize: 30 })))).toBeInstanceOf(InvalidArgumentError);
  });

  it('a hand-built config that skips the TS press class is an internal error: missing options are never defaulted', () => {
    const missing = errorOf(() => raw({ name: 'SnapKVPress', options: { compressionRatio: 0.5 } }));
    expect(missing).toBeInstanceOf(InternalError);
    expect(missing.message).toMatch(/SnapKVPress: numeric option 'windowSize' is missing/);
    expect(errorOf(() => raw({ name: 'KnormPress' }))).toBeInstanceOf(InternalError);
    // Out-of-range values the schema would refuse are still caught where they would break memory safety.
    for (const r of [-0.1, 1, 2]) expect(errorOf(() => raw({ name: 'KnormPress', options: { compressionRatio: r } }))).toBeInstanceOf(InternalError);
    expect(errorOf(() => raw({ ...native('snapkv'), options: { ...native('snapkv').options, windowSize: 0 } }))).toBeInstanceOf(InternalError);
    // The same press through its class: defaults filled in, it runs.
    expect(raw(native({ name: 'snapkv', compressionRatio: 0.5, windowSize: 8 })).kept[0].length).toBe(12);
  });

  it('missing artefact → not found; malformed → corrupt file', async () => {
    // Files as the native side finds them, after the press was created (and its file checked) on the TS side.
    const garbage = writeJson(join(tmp.dir, 'garbage.safetensors'), 'not safetensors');
    const qfilter = (artefactPath: string) => {
      const config = native({ name: 'qfilter', compressionRatio: 0.5, artefactPath: garbage });
      return { ...config, options: { ...config.options, artefactPath } };
    };
    expect(errorOf(() => raw(qfilter(join(tmp.dir, 'missing.safetensors'))))).toBeInstanceOf(ModelNotFoundError);
    expect(errorOf(() => raw(qfilter(garbage)))).toBeInstanceOf(CorruptModelError);
    const wrongShape = await writeF32Safetensors(join(tmp.dir, 'qf.safetensors'), { q_filters: { shape: [2, 3, 8], data: new Float32Array(48) } });
    expect(errorOf(() => raw(qfilter(wrongShape)))).toBeInstanceOf(CorruptModelError);
    const badDuo = writeJson(join(tmp.dir, 'duo.json'), { sinkSize: 2 });
    expect(errorOf(() => raw(native({ name: 'duo-attention', headCompressionRatio: 0.5, artefactPath: badDuo })))).toBeInstanceOf(CorruptModelError);
  });

  it('the entry stays usable after an error', () => {
    expect(() => raw({ name: 'NopePress' })).toThrow();
    expect(raw(native({ name: 'knorm', compressionRatio: 0.5 })).kept[0].length).toBe(12);
  });
});
