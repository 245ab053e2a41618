// Wrappers that apply an inner scorer chunk by chunk: ChunkKV, Chunk and Block (kvpress spec §2.16).
import { z } from 'zod';
import { count, ratio } from './base.js';
import { WrapperPress } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

/** Keeps whole chunks of `chunkLength` tokens ranked by their summed scores; same tokens for every head. */
export class ChunkKVPress extends WrapperPress<{ compressionRatio?: number; chunkLength: number }> {
  static readonly className = 'ChunkKVPress';
  static readonly shortName = 'chunkkv';
  static readonly schema = z.object({ compressionRatio: ratio().optional(), chunkLength: count(1).default(20) }).strict();
}

/** Scores and compresses each chunk of `chunkLength` tokens on its own: uniform coverage of the context. */
export class ChunkPress extends WrapperPress<{ compressionRatio?: number; chunkLength: number }> {
  static readonly className = 'ChunkPress';
  static readonly shortName = 'chunk';
  static readonly schema = z.object({ compressionRatio: ratio().optional(), chunkLength: count(1).default(1024) }).strict();
}

/** Streaming top-k: the kept set is re-chosen as each block of `blockSize` tokens arrives. */
export class BlockPress extends WrapperPress<{ compressionRatio?: number; blockSize: number }> {
  static readonly className = 'BlockPress';
  static readonly shortName = 'block';
  static readonly schema = z.object({ compressionRatio: ratio().optional(), blockSize: count(1).default(128) }).strict();
}
