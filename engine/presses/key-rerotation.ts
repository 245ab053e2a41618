// KeyRerotation: keep the inner scorer's choice in positional order and re-rotate keys to contiguous positions.
import { z } from 'zod';
import { ratio } from './base.js';
import { WrapperPress } from './wrapper.js';
import './registry.js'; // inner press specs are resolved by name

/** Kept keys move to positions 0..k−1 (RoPE re-applied by the angle difference); questions follow at k. */
export class KeyRerotationPress extends WrapperPress<{ compressionRatio?: number }> {
  static readonly className = 'KeyRerotationPress';
  static readonly shortName = 'key-rerotation';
  static readonly schema = z.object({ compressionRatio: ratio().optional() }).strict();
}
