#pragma once
// CPU kernels. Instruction-set specific variants (kernels-avx2.cc, kernels-avx512.cc) fill the same
// KernelTable as the portable C++ one (kernels-portable.cc), which is the reference they are tested
// against; dispatch.cc picks one at run time. Everything accumulates in f32.
#include <cstdint>

#include "core/dtype.h"
#include "core/thread-pool.h"

namespace presskv::cpu {

// Scratch floats a matmul_block call may use: kScratchRows converted weight rows of k floats (+ padding).
constexpr int64_t kScratchRows = 8;
inline int64_t matmul_scratch_floats(int64_t k) { return kScratchRows * ((k + 15) / 16 * 16) + 64; }

// Multiply-adds below which a kernel runs on the calling thread alone.
constexpr int64_t kMinParallelMacs = 1 << 17;

struct KernelTable {
  const char* name;
  // y[i*ldy + j] = dot(x[i*ldx .. +k], w row j) for i < m, n0 <= j < n1. w: row-major [n][k] of wt.
  void (*matmul_block)(const float* x, int64_t m, int64_t ldx, const void* w, DType wt, int64_t k, int64_t n0,
                       int64_t n1, float* y, int64_t ldy, float* scratch);
  // out[r] = dot(q, rows[r]) for r < n_rows; rows: n_rows contiguous vectors of d elements of dt.
  void (*dot_rows)(const float* q, const void* rows, DType dt, int64_t n_rows, int64_t d, float* out);
  // acc[0..d) += sum_r coef[r] * rows[r].
  void (*axpy_rows)(const float* coef, const void* rows, DType dt, int64_t n_rows, int64_t d, float* acc);
  // Attention weights in place: s[i] = exp(s[i] − max) / Σ exp(s[j] − max), where max ≥ every s[i] and some
  // s[i] = max; −inf (a hidden slot) gives exactly 0. round_to_f16: each weight is then rounded to f16, as
  // a KQ·V product in an f16 cache's type would see it.
  void (*softmax_shifted)(float* s, int64_t n, float max, bool round_to_f16);
  // Ceiling probes (cpu/ceiling-probe.h). The sum of n floats, n a multiple of read_block floats, asking for
  // the lines prefetch_bytes ahead (0: the hardware prefetchers alone).
  float (*read_sum)(const float* p, int64_t n, int64_t prefetch_bytes);
  int64_t read_block;
  // iterations rounds of independent FMAs, fma_flops_per_iteration FLOP each; returns a value to keep it live.
  float (*fma_chains)(int64_t iterations);
  int64_t fma_flops_per_iteration;
};

const KernelTable& portable_kernels();
#if defined(__x86_64__) || defined(_M_X64)
const KernelTable& avx2_kernels();
const KernelTable& avx512_kernels();
#endif

// The table for this CPU: AVX-512 (f/bw/vl) > AVX2+FMA+F16C > portable. PRESSKV_SIMD=portable|avx2|avx512
// forces a lower (or equal) level, e.g. to compare paths in tests.
const KernelTable& kernels();
// The table named "portable" | "avx2" | "avx512" | "auto", or null if the CPU lacks it.
const KernelTable* kernels_named(const char* name);
// Sets the table used from now on (a kernels_named name); false if the CPU lacks it.
bool select_kernels(const char* name);

// y[m×n] = x[m×k] · Wᵀ over the pool, each weight row read once per call. ldx / ldy: row strides.
void matmul(ThreadPool& pool, const float* x, int64_t m, int64_t ldx, const void* w, DType wt, int64_t n,
            int64_t k, float* y, int64_t ldy);

// Row-wise RMSNorm: y = x / sqrt(mean(x²) + eps) * weight (y may alias x).
void rmsnorm(const float* x, const float* weight, float* y, int64_t n, float eps);
// gate[i] = silu(gate[i]) * up[i].
void silu_mul(float* gate, const float* up, int64_t n);

// Converts n values of dt to f32 / from f32 (KV pages, embeddings).
void to_f32(const void* src, DType dt, int64_t n, float* dst);
void from_f32(const float* src, DType dt, int64_t n, void* dst);

}  // namespace presskv::cpu
