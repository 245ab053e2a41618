// Plain C++ kernels: the reference for the SIMD variants and the fallback on any CPU.
#include <cmath>
#include "core/half.h"
#include "cpu/kernels.h"

namespace presskv::cpu {
namespace {

inline float load_elem(const void* base, DType dt, int64_t i) {
  switch (dt) {
    case DType::F32: return static_cast<const float*>(base)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
  }
  return 0.0f;
}

const void* row_ptr(const void* base, DType dt, int64_t row, int64_t k) {
  return static_cast<const uint8_t*>(base) + row * k * static_cast<int64_t>(dtype_size(dt));
}

void matmul_block(const float* x, int64_t m, int64_t ldx, const void* w, DType wt, int64_t k, int64_t n0, int64_t n1,
                  float* y, int64_t ldy, float* scratch) {
  for (int64_t j = n0; j < n1; ++j) {
    const float* wr;
    if (wt == DType::F32) {
      wr = static_cast<const float*>(row_ptr(w, wt, j, k));
    } else {
      const void* src = row_ptr(w, wt, j, k);
      for (int64_t t = 0; t < k; ++t) scratch[t] = load_elem(src, wt, t);
      wr = scratch;
    }
    for (int64_t i = 0; i < m; ++i) {
      const float* xr = x + i * ldx;
      float sum = 0.0f;
      for (int64_t t = 0; t < k; ++t) sum += xr[t] * wr[t];
      y[i * ldy + j] = sum;
    }
  }
}

void dot_rows(const float* q, const void* rows, DType dt, int64_t n_rows, int64_t d, float* out) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const void* row = row_ptr(rows, dt, r, d);
    float sum = 0.0f;
    for (int64_t t = 0; t < d; ++t) sum += q[t] * load_elem(row, dt, t);
    out[r] = sum;
  }
}

void axpy_rows(const float* coef, const void* rows, DType dt, int64_t n_rows, int64_t d, float* acc) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float c = coef[r];
    if (c == 0.0f) continue;
    const void* row = row_ptr(rows, dt, r, d);
    for (int64_t t = 0; t < d; ++t) acc[t] += c * load_elem(row, dt, t);
  }
}

void softmax_shifted(float* s, int64_t n, float max, bool round_to_f16) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    s[i] = std::exp(s[i] - max);  // exp(−inf) = 0 for hidden slots
    sum += s[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) s[i] = round_to_f16 ? f16_to_f32(f32_to_f16(s[i] * inv)) : s[i] * inv;
}

// The probes in plain C++ with the SIMD files' shapes (8 read accumulators, 12 FMA chains), so the compiler's
// baseline vectorisation is what they measure.
constexpr int kReadChains = 8, kFmaChains = 12;

float read_sum(const float* p, int64_t n, int64_t prefetch_bytes) {
  float acc[kReadChains] = {};
  for (int64_t t = 0; t + kReadChains <= n; t += kReadChains) {
    // One line in every 16 floats' worth of steps: kReadChains floats are half a line.
    if (prefetch_bytes > 0 && t % 16 == 0) __builtin_prefetch(reinterpret_cast<const char*>(p + t) + prefetch_bytes);
    for (int c = 0; c < kReadChains; ++c) acc[c] += p[t + c];
  }
  float sum = 0.0f;
  for (float a : acc) sum += a;
  return sum;
}

float fma_chains(int64_t iterations) {
  float acc[kFmaChains];
  for (int c = 0; c < kFmaChains; ++c) acc[c] = static_cast<float>(c);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kFmaChains; ++c) acc[c] = std::fma(acc[c], 0.999f, 0.001f);
  float sum = 0.0f;
  for (float a : acc) sum += a;
  return sum;
}

}  // namespace

const KernelTable& portable_kernels() {
  static const KernelTable table{"portable", matmul_block, dot_rows,   axpy_rows,       softmax_shifted,
                                 read_sum,   kReadChains,  fma_chains, 2 * kFmaChains};
  return table;
}

}  // namespace presskv::cpu
