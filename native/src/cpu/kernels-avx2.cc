// AVX2 + FMA + F16C instantiation of simd-kernels.h: 8 lanes; tails go through a zero-padded buffer.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "cpu/simd-kernels.h"

namespace presskv::cpu {
namespace {

struct Avx2 {
  using vec = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kMaxRows = 2;  // 2×4 accumulators + 4 weights + 1 activation of 16 registers
  static vec zero() { return _mm256_setzero_ps(); }
  static vec set1(float v) { return _mm256_set1_ps(v); }
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static vec load_tail(const float* p, int n) {
    alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, p, n * sizeof(float));
    return _mm256_load_ps(buf);
  }
  static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static void store_tail(float* p, vec v, int n) {
    alignas(32) float buf[8];
    _mm256_store_ps(buf, v);
    std::memcpy(p, buf, n * sizeof(float));
  }
  static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  static vec round_nearest(vec v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static vec pow2i(vec n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
  static vec zero_below(vec x, vec v, float limit) { return _mm256_and_ps(_mm256_cmp_ps(x, set1(limit), _CMP_GE_OQ), v); }
  static vec round_f16(vec v) { return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }
  static float reduce(vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static vec widen(__m128i h, DType dt) {
    if (dt == DType::F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  template <DType DT>
  static vec load_w(const void* base, int64_t t) {
    if constexpr (DT == DType::F32) {
      return _mm256_loadu_ps(static_cast<const float*>(base) + t);
    } else {
      const uint16_t* p = static_cast<const uint16_t*>(base) + t;
      return widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), DT);
    }
  }
  template <DType DT>
  static vec load_w_tail(const void* base, int64_t t, int n) {
    if constexpr (DT == DType::F32) {
      return load_tail(static_cast<const float*>(base) + t, n);
    } else {
      alignas(16) uint16_t buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(buf, static_cast<const uint16_t*>(base) + t, n * sizeof(uint16_t));
      return widen(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)), DT);
    }
  }
};

}  // namespace

const KernelTable& avx2_kernels() {
  static const KernelTable table{"avx2", simd::matmul_block<Avx2>, simd::dot_rows<Avx2>, simd::axpy_rows<Avx2>,
                                 simd::softmax_shifted<Avx2>,
                                 simd::read_sum<Avx2>, simd::kReadChains * Avx2::kLanes,
                                 simd::fma_chains<Avx2>, 2 * simd::kFmaChains * Avx2::kLanes};
  return table;
}

}  // namespace presskv::cpu
#endif
