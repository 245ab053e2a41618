#pragma once
// Causal attention over the paged KV cache, streaming page by page (no n×n score matrix, one score
// per slot of the head being read): query row t of head h sees the slots of kv-head h / (n_heads / n_kv_heads) whose original
// position is <= q_pos[t]. The same kernel serves chunked prefill (n > 1) and decode (n == 1).
#include <cstdint>

#include "core/thread-pool.h"
#include "kv/paged-kv-cache.h"

namespace presskv::model_ops {

// q: n rows of n_heads * head_dim floats (RoPE applied, already multiplied by the softmax scale);
// out: same layout. Parallel over (kv-head, block of rows).
void paged_attention(ThreadPool& pool, const PagedKvCache& cache, int32_t layer, const float* q, const int32_t* q_pos,
               int32_t n, int32_t n_heads, float* out);

}  // namespace presskv::model_ops
