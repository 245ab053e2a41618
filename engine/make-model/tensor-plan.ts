// Which tensors a model of a given config has, their shapes (row-major, outermost first), how their
// random values are drawn, and their names in both conventions (GGUF's, used everywhere inside
// presskv, and Hugging Face's, used in safetensors files).
import type { ModelConfig } from '../model-spec.js';

export interface PlannedTensor {
  /** GGUF-convention name (token_embd.weight, blk.3.attn_q.weight, ...). */
  name: string;
  hfName: string;
  shape: number[];
  /** Values are uniform on [center − halfWidth, center + halfWidth]. */
  center: number;
  halfWidth: number;
}

/**
 * Uniform ±gain/sqrt(fan_in). Gain 1 keeps a projection's output on the scale of its RMS-normalised input;
 * the query/key gain of 3 sharpens attention and the output gain of 3 lets each layer outweigh the
 * embedding, as in trained models, so that random models produce varied text instead of one repeated token.
 */
function projection(name: string, hfName: string, out: number, inFeatures: number, gain = 1): PlannedTensor {
  return { name, hfName, shape: [out, inFeatures], center: 0, halfWidth: gain / Math.sqrt(inFeatures) };
}

/** Around `center`, not exactly on it, so a forward pass that forgot a norm weight shows up in parity tests. */
function norm(name: string, hfName: string, size: number, center = 1): PlannedTensor {
  return { name, hfName, shape: [size], center, halfWidth: 0.2 * center };
}

function bias(name: string, hfName: string, size: number): PlannedTensor {
  return { name, hfName, shape: [size], center: 0, halfWidth: 0.1 };
}

export function planTensors(config: ModelConfig): PlannedTensor[] {
  const { hidden, nHeads, nKvHeads, headDim, ffn, vocab } = config;
  const qDim = nHeads * headDim;
  const kvDim = nKvHeads * headDim;
  // Small embeddings, as in trained models: a large one dominates the residual stream and a tied model
  // then just repeats its last input token. The final norm's larger weights restore a logit scale near 1.
  const tensors: PlannedTensor[] = [
    { name: 'token_embd.weight', hfName: 'model.embed_tokens.weight', shape: [vocab, hidden], center: 0, halfWidth: 1 / Math.sqrt(hidden) },
  ];
  for (let l = 0; l < config.nLayers; l++) {
    const blk = `blk.${l}`;
    const hf = `model.layers.${l}`;
    tensors.push(norm(`${blk}.attn_norm.weight`, `${hf}.input_layernorm.weight`, hidden));
    tensors.push(projection(`${blk}.attn_q.weight`, `${hf}.self_attn.q_proj.weight`, qDim, hidden, 3));
    tensors.push(projection(`${blk}.attn_k.weight`, `${hf}.self_attn.k_proj.weight`, kvDim, hidden, 3));
    tensors.push(projection(`${blk}.attn_v.weight`, `${hf}.self_attn.v_proj.weight`, kvDim, hidden));
    if (config.qkvBias) {
      tensors.push(bias(`${blk}.attn_q.bias`, `${hf}.self_attn.q_proj.bias`, qDim));
      tensors.push(bias(`${blk}.attn_k.bias`, `${hf}.self_attn.k_proj.bias`, kvDim));
      tensors.push(bias(`${blk}.attn_v.bias`, `${hf}.self_attn.v_proj.bias`, kvDim));
    }
    if (config.qkNorm) {
      // q/k norms fix the scale of queries and keys, so their weights set how sharp attention is.
      tensors.push(norm(`${blk}.attn_q_norm.weight`, `${hf}.self_attn.q_norm.weight`, headDim, 2));
      tensors.push(norm(`${blk}.attn_k_norm.weight`, `${hf}.self_attn.k_norm.weight`, headDim, 2));
    }
    tensors.push(projection(`${blk}.attn_output.weight`, `${hf}.self_attn.o_proj.weight`, hidden, qDim, 3));
    tensors.push(norm(`${blk}.ffn_norm.weight`, `${hf}.post_attention_layernorm.weight`, hidden));
    tensors.push(projection(`${blk}.ffn_gate.weight`, `${hf}.mlp.gate_proj.weight`, ffn, hidden));
    tensors.push(projection(`${blk}.ffn_up.weight`, `${hf}.mlp.up_proj.weight`, ffn, hidden));
    tensors.push(projection(`${blk}.ffn_down.weight`, `${hf}.mlp.down_proj.weight`, hidden, ffn, 3));
  }
  tensors.push(norm('output_norm.weight', 'model.norm.weight', hidden, 2));
  if (!config.tiedEmbeddings) {
    tensors.push({ name: 'output.weight', hfName: 'lm_head.weight', shape: [vocab, hidden], center: 0, halfWidth: 2 / Math.sqrt(hidden) });
  }
  return tensors;
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
