// AVX-512 (F/BW/VL) instantiation of simd-kernels.h: 16 lanes, masked loads for tails.
#if defined(__x86_64__) || defined(_M_X64)
// GCC 12's own avx512fintrin.h trips -Wuninitialized (its _mm512_undefined_* helpers); not our code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/simd-kernels.h"

namespace presskv::cpu {
namespace {

struct Avx512 {
  using vec = __m512;
  static constexpr int kLanes = 16;
  static constexpr int kMaxRows = 4;  // 4×4 accumulators + 4 weights + 1 activation of 32 registers
  static vec zero() { return _mm512_setzero_ps(); }
  static vec set1(float v) { return _mm512_set1_ps(v); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static vec load(const float* p) { return _mm512_loadu_ps(p); }
  static vec load_tail(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  static void store_tail(float* p, vec v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
  static float reduce(vec v) { return _mm512_reduce_add_ps(v); }
  static vec round_nearest(vec v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static vec pow2i(vec n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
  }
  static vec zero_below(vec x, vec v, float limit) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, set1(limit), _CMP_GE_OQ), v); }
  static vec round_f16(vec v) { return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }
  static vec widen(__m256i h, DType dt) {
    if (dt == DType::F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  template <DType DT>
  static vec load_w(const void* base, int64_t t) {
    if constexpr (DT == DType::F32) {
      return _mm512_loadu_ps(static_cast<const float*>(base) + t);
    } else {
      const uint16_t* p = static_cast<const uint16_t*>(base) + t;
      return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), DT);
    }
  }
  template <DType DT>
  static vec load_w_tail(const void* base, int64_t t, int n) {
    if constexpr (DT == DType::F32) {
      return _mm512_maskz_loadu_ps(mask(n), static_cast<const float*>(base) + t);
    } else {
      const uint16_t* p = static_cast<const uint16_t*>(base) + t;
      return widen(_mm256_maskz_loadu_epi16(mask(n), p), DT);
    }
  }
};

}  // namespace

const KernelTable& avx512_kernels() {
  static const KernelTable table{"avx512", simd::matmul_block<Avx512>, simd::dot_rows<Avx512>,
                                 simd::axpy_rows<Avx512>, simd::softmax_shifted<Avx512>,
                                 simd::read_sum<Avx512>, simd::kReadChains * Avx512::kLanes,
                                 simd::fma_chains<Avx512>, 2 * simd::kFmaChains * Avx512::kLanes};
  return table;
}

}  // namespace presskv::cpu
#endif
