// A plain reader of Session.saveKv's payload layout (native/src/addon/session-snapshot.h): token history,
// pending tokens, kept logits, then per (layer, kv-head) the kept slots' original positions and K/V rows.
import { expect } from 'vitest';

export interface KvPayloadHead {
  positions: number[];
  k: Uint8Array;
  v: Uint8Array;
}
export interface KvPayload {
  magic: string;
  version: number;
  vocab: number;
  history: number[];
  pending: number[];
  logits: Float32Array;
  dtype: number;
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  nextPosition: number;
  heads: KvPayloadHead[];
  checksum: bigint;
}

export function parseKvPayload(bytes: Uint8Array): KvPayload {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const u32 = () => ((o += 4), view.getUint32(o - 4, true));
  const i32s = (n: number) => Array.from({ length: n }, () => ((o += 4), view.getInt32(o - 4, true)));
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  o = 4;
  const version = u32();
  const vocab = u32();
  const [nHistory, nPending, nLogits] = [u32(), u32(), u32()];
  const history = i32s(nHistory);
  const pending = i32s(nPending);
  const logits = new Float32Array(bytes.slice(o, o + 4 * nLogits).buffer);
  o += 4 * nLogits;
  const [dtype, nLayers, nKvHeads, headDim] = [u32(), u32(), u32(), u32()];
  const nextPosition = i32s(1)[0];
  const lengths = i32s(nLayers * nKvHeads);
  const rowBytes = headDim * (dtype === 1 ? 2 : 4);
  const heads = lengths.map((n) => {
    const positions = i32s(n);
    const k = bytes.slice(o, o + n * rowBytes);
    const v = bytes.slice(o + n * rowBytes, o + 2 * n * rowBytes);
    o += 2 * n * rowBytes;
    return { positions, k, v };
  });
  const sum = view.getBigUint64(o, true);
  expect(o + 8).toBe(bytes.length);
  return { magic, version, vocab, history, pending, logits, dtype, nLayers, nKvHeads, headDim, nextPosition, heads, checksum: sum };
}
