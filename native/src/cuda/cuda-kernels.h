#pragma once
// The CUDA leaf kernels and device-memory helpers, declared in plain C++ so the forward pass
// (model/forward-cuda.cc) compiles without CUDA headers. Each kernel mirrors a CPU kernel of cpu/ or
// model/, which is its reference in the GPU tests. Everything accumulates in f32. All work runs on
// one stream per device context, in order; download() waits for it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace presskv::cuda {

// Selects the device for the calling thread; throws EngineError(Unsupported) naming the reason when
// there is no driver, no such device, or the device cannot run this build's code.
void use_device(int32_t index);
struct MemoryInfo {
  size_t free_bytes = 0, total_bytes = 0;
};
MemoryInfo memory_info();

// Device allocations; OutOfMemory (typed, the engine stays usable) when the device is full.
void* alloc(size_t bytes, const char* what);
void release(void* ptr);
void upload(void* dst, const void* src, size_t bytes);
// Waits for every queued kernel, then copies.
void download(void* dst, const void* src, size_t bytes);
void synchronize();

// out[i] = f32(table row tokens[i]), rows of `hidden` values of dt.
void embed_rows(const void* table, DType dt, int64_t hidden, const int32_t* tokens, int32_t n, float* out);
// y = x / sqrt(mean(x²) + eps) * w per row of n (y may alias x).
void rmsnorm_rows(const float* x, const float* w, float* y, int64_t rows, int64_t n, float eps);
// y[i, j] += b[j].
void add_bias(float* y, const float* b, int64_t rows, int64_t width);
// Rotates rope_dim dims of each head of every row (cs: rope_tables layout, one row per token), then
// multiplies the row by scale.
void rope_rows(float* x, int32_t rows, int32_t heads, int32_t head_dim, int32_t rope_dim, bool interleaved,
               const float* cs, float scale);
// y[m×n] = x[m×k] · Wᵀ, W row-major [n][k] of wt (f32 / f16 / bf16).
void matmul(const float* x, int64_t m, const void* w, DType wt, int64_t n, int64_t k, float* y);
// gate = silu(gate) * up.
void silu_mul(float* gate, const float* up, int64_t n);
// h += p.
void add_inplace(float* h, const float* p, int64_t n);

// Causal attention over paged KV whose pages are mirrored on the device (page layout of
// kv/paged-kv-cache.h: K rows, V rows, positions). Query row t belongs to sequence row_seq[t]; head h
// reads kv-head h / (n_heads / n_kv_heads) of that sequence: head_table[seq * n_kv_heads + g] gives
// {first page in page_ptrs, slot count}. q: [rows][n_heads * head_dim], scaled; out likewise.
struct HeadPages {
  int32_t first_page;
  int32_t length;
};
struct AttentionArgs {
  const float* q;
  float* out;
  const int32_t* q_pos;      // [rows]
  const int32_t* row_seq;    // [rows]
  const HeadPages* heads;    // [sequences * n_kv_heads]
  const uint8_t* const* page_ptrs;
  int32_t rows, n_heads, n_kv_heads, head_dim, page_tokens;
  int32_t max_pages;         // most pages of any head: sizes the split over pages
  DType dtype;               // f16 or f32
  float* scratch;            // attention_scratch_floats(...) floats
};
size_t attention_scratch_floats(int32_t rows, int32_t n_heads, int32_t head_dim, int32_t max_pages);
void paged_attention(const AttentionArgs& args);

}  // namespace presskv::cuda
