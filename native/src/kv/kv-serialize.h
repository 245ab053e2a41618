#pragma once
// The page-size independent byte form of a KV cache: dtype, shape, next_position, then per (layer, kv-head)
// in layer-major order its length, the original positions of its slots and its K and V rows in the cache's
// storage dtype. Reading it back into a cache gives the same slots bit for bit, whatever the page size.
//
// Section layout (little-endian):
//   u32 dtype (0 = f32, 1 = f16)  u32 n_layers  u32 n_kv_heads  u32 head_dim  i32 next_position
//   i32 lengths[n_layers * n_kv_heads]
//   for each (layer, kv-head): i32 positions[len]  K[len * head_dim]  V[len * head_dim]
#include "core/byte-io.h"
#include "kv/paged-kv-cache.h"

namespace presskv {

void write_kv_cache(const PagedKvCache& cache, ByteWriter& out);
// Bytes write_kv_cache will append (so the caller can reserve once).
size_t kv_cache_section_bytes(const PagedKvCache& cache);

// Fills `cache` (empty, same model shape and dtype) from the section. Throws ERR_CORRUPT_FILE on a malformed
// or mismatching section, ERR_CONTEXT_OVERFLOW when it holds more positions than cache.max_tokens(), and
// ERR_OUT_OF_MEMORY when the pool's budget cannot hold it; the cache is then left partly filled (drop it).
void read_kv_cache(ByteReader& in, PagedKvCache& cache);

}  // namespace presskv
