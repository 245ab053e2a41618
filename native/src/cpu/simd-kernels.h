#pragma once
// The SIMD kernel bodies, written once over a vector-traits type V and instantiated by
// kernels-avx2.cc (8 lanes) and kernels-avx512.cc (16 lanes), each compiled with its own -m flags.
// V provides: vec, kLanes, zero(), load(const float*), load_tail(const float*, n), load_w<DT>(const void*, t),
// load_w_tail<DT>(const void*, t, n), fma(a, b, c), add(a, b), mul(a, b), set1(float), store(float*, v),
// store_tail(float*, v, n), reduce(v), round_nearest(v), pow2i(n) (2ⁿ for integral n), zero_below(x, v, limit)
// (v, or 0 where x < limit or x is NaN), round_f16(v) (to the nearest f16 and back).
#include <algorithm>
#include <cstring>

#include "cpu/kernels.h"

namespace presskv::cpu::simd {

// Streaming tiles prefetch the weights of the tile that comes next in the sweep (the same rows' next
// k-block, or the next group of rows), element for element with their own loads: one tile (~8 KiB) ahead
// of the demand stream. One core keeps too few cache-line misses in flight for DRAM's latency on its own;
// on Zen 2 this read a 300 MB f16 matrix at 12–18 GB/s on one thread where a fixed 1 KiB distance (tuned on
// Zen 4) read 9–10 and no prefetch 7–8 (k = 1024 and 3072).
// Register tile: MR activation rows × NR weight rows of dot products, streaming k once. Stream: the weight
// rows come from memory, and `ahead` (when given) holds the NR row pointers of the next tile to prefetch.
template <class V, int MR, int NR, DType DT, bool Stream = false>
inline void tile(const float* x, int64_t ldx, const void* const* wrows, int64_t k, float* y, int64_t ldy,
                 bool accumulate = false, const void* const* ahead = nullptr) {
  typename V::vec acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int r = 0; r < NR; ++r) acc[i][r] = V::zero();
  int64_t t = 0;
  constexpr int64_t kEsize = DT == DType::F32 ? 4 : 2;
  for (; t + V::kLanes <= k; t += V::kLanes) {
    typename V::vec wv[NR];
    if constexpr (Stream)
      if (ahead)
        for (int r = 0; r < NR; ++r) __builtin_prefetch(static_cast<const char*>(ahead[r]) + t * kEsize);
    for (int r = 0; r < NR; ++r) wv[r] = V::template load_w<DT>(wrows[r], t);
    for (int i = 0; i < MR; ++i) {
      const typename V::vec xv = V::load(x + i * ldx + t);
      for (int r = 0; r < NR; ++r) acc[i][r] = V::fma(xv, wv[r], acc[i][r]);
    }
  }
  if (t < k) {
    const int n = static_cast<int>(k - t);
    typename V::vec wv[NR];
    for (int r = 0; r < NR; ++r) wv[r] = V::template load_w_tail<DT>(wrows[r], t, n);
    for (int i = 0; i < MR; ++i) {
      const typename V::vec xv = V::load_tail(x + i * ldx + t, n);
      for (int r = 0; r < NR; ++r) acc[i][r] = V::fma(xv, wv[r], acc[i][r]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int r = 0; r < NR; ++r) {
      const float sum = V::reduce(acc[i][r]);
      y[i * ldy + r] = accumulate ? y[i * ldy + r] + sum : sum;
    }
}

template <class V, int MR, DType DT, bool Stream>
inline void tile_nr(int nr, const float* x, int64_t ldx, const void* const* wrows, int64_t k, float* y,
                    int64_t ldy, bool acc, const void* const* ahead) {
  switch (nr) {
    case 4: tile<V, MR, 4, DT, Stream>(x, ldx, wrows, k, y, ldy, acc, ahead); break;
    case 3: tile<V, MR, 3, DT, Stream>(x, ldx, wrows, k, y, ldy, acc, ahead); break;
    case 2: tile<V, MR, 2, DT, Stream>(x, ldx, wrows, k, y, ldy, acc, ahead); break;
    default: tile<V, MR, 1, DT, Stream>(x, ldx, wrows, k, y, ldy, acc, ahead); break;
  }
}

template <class V, DType DT, bool Stream = false>
inline void tile_any(int mr, int nr, const float* x, int64_t ldx, const void* const* wrows, int64_t k, float* y,
                     int64_t ldy, bool acc = false, const void* const* ahead = nullptr) {
  switch (mr) {
    case 4: if constexpr (V::kMaxRows >= 4) { tile_nr<V, 4, DT, Stream>(nr, x, ldx, wrows, k, y, ldy, acc, ahead); break; }
            [[fallthrough]];
    case 3: if constexpr (V::kMaxRows >= 3) { tile_nr<V, 3, DT, Stream>(nr, x, ldx, wrows, k, y, ldy, acc, ahead); break; }
            [[fallthrough]];
    case 2: tile_nr<V, 2, DT, Stream>(nr, x, ldx, wrows, k, y, ldy, acc, ahead); break;
    default: tile_nr<V, 1, DT, Stream>(nr, x, ldx, wrows, k, y, ldy, acc, ahead); break;
  }
}

// Both matmul paths cut k into blocks of kKBlock and sum each dot product as
// reduce(block 0) + reduce(block 1) + ..., each block accumulated lane-wise in t order. A dot product
// therefore never depends on m or on which path ran it: row i of an m-row call equals the 1-row call
// bit for bit, which batched decoding relies on (batched and one-by-one greedy runs agree).
constexpr int64_t kKBlock = 1024;

// Few activation rows (decode, batched decode): convert weights on the fly, memory-bound, one pass over
// each row. Up to kDirectMaxRows rows this beats converting a block of weights once into scratch (on
// Zen 4, 1024×3072 f16: 1.5–2× faster at m = 4..16 with AVX-512 and AVX2, even at m = 32), since a
// 4-row weight tile of one k-block stays in L1 for every row group.
constexpr int64_t kDirectMaxRows = 32;
template <class V, DType DT>
void matmul_direct(const float* x, int64_t m, int64_t ldx, const void* w, int64_t k, int64_t n0, int64_t n1,
                   float* y, int64_t ldy) {
  const int64_t esize = static_cast<int64_t>(dtype_size(DT));
  const int64_t row_bytes = k * esize;
  const uint8_t* base = static_cast<const uint8_t*>(w);
  for (int64_t j = n0; j < n1; j += 4) {
    const int nr = static_cast<int>(std::min<int64_t>(4, n1 - j));
    for (int64_t kb = 0; kb < k; kb += kKBlock) {
      const int64_t kl = std::min(kKBlock, k - kb);
      const void* wrows[4];
      for (int r = 0; r < nr; ++r) wrows[r] = base + (j + r) * row_bytes + kb * esize;
      // The next tile: these rows' next k-block, else the next group's first; past n1 (another call's
      // rows) nothing new, so the last tile re-asks for its own lines.
      const void* ahead[4];
      for (int r = 0; r < nr; ++r) {
        if (kb + kKBlock < k) ahead[r] = static_cast<const uint8_t*>(wrows[r]) + kKBlock * esize;
        else if (j + 4 + r < n1) ahead[r] = base + (j + 4 + r) * row_bytes;
        else ahead[r] = wrows[r];
      }
      // Only the first row group's pass prefetches: the later ones find this tile's weights in L1.
      for (int64_t i = 0; i < m; i += V::kMaxRows) {
        const int mr = static_cast<int>(std::min<int64_t>(V::kMaxRows, m - i));
        tile_any<V, DT, true>(mr, nr, x + i * ldx + kb, ldx, wrows, kl, y + i * ldy + j, ldy, kb > 0,
                              i == 0 ? ahead : nullptr);
      }
    }
  }
}

// Many activation rows (prefill): compute-bound. A block of every activation row stays in L2; inside a
// block each weight row is converted to f32 once (kScratchRows at a time, into L1-sized scratch) and
// met by all activation rows in register tiles. Every weight byte is thus read from memory once per call.

template <class V, DType DT>
void matmul_converted(const float* x, int64_t m, int64_t ldx, const void* w, int64_t k, int64_t n0, int64_t n1,
                      float* y, int64_t ldy, float* scratch) {
  const int64_t esize = static_cast<int64_t>(dtype_size(DT));
  const int64_t row_bytes = k * esize;
  const uint8_t* base = static_cast<const uint8_t*>(w);
  for (int64_t kb = 0; kb < k; kb += kKBlock) {
    const int64_t kl = std::min(kKBlock, k - kb);
    const int64_t kp = (kl + 15) / 16 * 16;
    for (int64_t j = n0; j < n1; j += kScratchRows) {
      const int64_t rows = std::min<int64_t>(kScratchRows, n1 - j);
      const void* conv[kScratchRows];
      for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* src = base + (j + r) * row_bytes + kb * esize;
        if constexpr (DT == DType::F32) {
          conv[r] = src;
        } else {
          float* dst = scratch + r * kp;
          int64_t t = 0;
          for (; t + V::kLanes <= kl; t += V::kLanes) V::store(dst + t, V::template load_w<DT>(src, t));
          if (t < kl) V::store_tail(dst + t, V::template load_w_tail<DT>(src, t, static_cast<int>(kl - t)),
                                    static_cast<int>(kl - t));
          conv[r] = dst;
        }
      }
      for (int64_t jr = 0; jr < rows; jr += 4) {
        const int nr = static_cast<int>(std::min<int64_t>(4, rows - jr));
        for (int64_t i = 0; i < m; i += V::kMaxRows) {
          const int mr = static_cast<int>(std::min<int64_t>(V::kMaxRows, m - i));
          tile_any<V, DType::F32>(mr, nr, x + i * ldx + kb, ldx, conv + jr, kl, y + i * ldy + j + jr, ldy, kb > 0);
        }
      }
    }
  }
}

template <class V>
void matmul_block(const float* x, int64_t m, int64_t ldx, const void* w, DType wt, int64_t k, int64_t n0, int64_t n1,
                  float* y, int64_t ldy, float* scratch) {
  const bool direct = m <= kDirectMaxRows;
  switch (wt) {
    case DType::F32:
      if (direct) matmul_direct<V, DType::F32>(x, m, ldx, w, k, n0, n1, y, ldy);
      else matmul_converted<V, DType::F32>(x, m, ldx, w, k, n0, n1, y, ldy, scratch);
      break;
    case DType::F16:
      if (direct) matmul_direct<V, DType::F16>(x, m, ldx, w, k, n0, n1, y, ldy);
      else matmul_converted<V, DType::F16>(x, m, ldx, w, k, n0, n1, y, ldy, scratch);
      break;
    case DType::BF16:
      if (direct) matmul_direct<V, DType::BF16>(x, m, ldx, w, k, n0, n1, y, ldy);
      else matmul_converted<V, DType::BF16>(x, m, ldx, w, k, n0, n1, y, ldy, scratch);
      break;
  }
}

template <class V>
void dot_rows(const float* q, const void* rows, DType dt, int64_t n_rows, int64_t d, float* out) {
  switch (dt) {
    case DType::F32: matmul_direct<V, DType::F32>(q, 1, d, rows, d, 0, n_rows, out, 1); break;
    case DType::F16: matmul_direct<V, DType::F16>(q, 1, d, rows, d, 0, n_rows, out, 1); break;
    case DType::BF16: matmul_direct<V, DType::BF16>(q, 1, d, rows, d, 0, n_rows, out, 1); break;
  }
}

template <class V, DType DT>
void axpy_rows_t(const float* coef, const void* rows, int64_t n_rows, int64_t d, float* acc) {
  const int64_t row_bytes = d * static_cast<int64_t>(dtype_size(DT));
  const uint8_t* base = static_cast<const uint8_t*>(rows);
  int64_t t = 0;
  for (; t + V::kLanes <= d; t += V::kLanes) {
    typename V::vec a = V::load(acc + t);
    for (int64_t r = 0; r < n_rows; ++r) a = V::fma(V::set1(coef[r]), V::template load_w<DT>(base + r * row_bytes, t), a);
    V::store(acc + t, a);
  }
  if (t < d) {
    const int n = static_cast<int>(d - t);
    typename V::vec a = V::load_tail(acc + t, n);
    for (int64_t r = 0; r < n_rows; ++r)
      a = V::fma(V::set1(coef[r]), V::template load_w_tail<DT>(base + r * row_bytes, t, n), a);
    V::store_tail(acc + t, a, n);
  }
}

template <class V>
void axpy_rows(const float* coef, const void* rows, DType dt, int64_t n_rows, int64_t d, float* acc) {
  switch (dt) {
    case DType::F32: axpy_rows_t<V, DType::F32>(coef, rows, n_rows, d, acc); break;
    case DType::F16: axpy_rows_t<V, DType::F16>(coef, rows, n_rows, d, acc); break;
    case DType::BF16: axpy_rows_t<V, DType::BF16>(coef, rows, n_rows, d, acc); break;
  }
}

// exp(x) for x ≤ 0 (Cephes' single-precision scheme, ~1 ulp): x = n·ln 2 + r with n = round(x·log₂e) and
// ln 2 split in two so r is exact, e^r = 1 + r + r²·P(r), times 2ⁿ. Below −87.3 (and −inf) the result is 0.
template <class V>
inline typename V::vec exp_nonpositive(typename V::vec x) {
  const typename V::vec n = V::round_nearest(V::mul(x, V::set1(1.44269504088896341f)));
  typename V::vec r = V::fma(n, V::set1(-0.693359375f), x);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  typename V::vec p = V::set1(1.9875691500e-4f);
  p = V::fma(p, r, V::set1(1.3981999507e-3f));
  p = V::fma(p, r, V::set1(8.3334519073e-3f));
  p = V::fma(p, r, V::set1(4.1665795894e-2f));
  p = V::fma(p, r, V::set1(1.6666665459e-1f));
  p = V::fma(p, r, V::set1(5.0000001201e-1f));
  p = V::fma(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
  return V::zero_below(x, V::mul(p, V::pow2i(n)), -87.3365478515625f);
}

template <class V>
void softmax_shifted(float* s, int64_t n, float max, bool round_to_f16) {
  const typename V::vec shift = V::set1(-max);
  typename V::vec sum = V::zero();
  int64_t t = 0;
  for (; t + V::kLanes <= n; t += V::kLanes) {
    const typename V::vec e = exp_nonpositive<V>(V::add(V::load(s + t), shift));
    V::store(s + t, e);
    sum = V::add(e, sum);
  }
  float total = V::reduce(sum);
  if (t < n) {
    const int rest = static_cast<int>(n - t);
    // Tail lanes load as 0 and would add exp(−max); they are masked off the sum by the store below.
    const typename V::vec e = exp_nonpositive<V>(V::add(V::load_tail(s + t, rest), shift));
    V::store_tail(s + t, e, rest);
    for (int i = 0; i < rest; ++i) total += s[t + i];
  }
  const typename V::vec inv = V::set1(1.0f / total);
  for (t = 0; t + V::kLanes <= n; t += V::kLanes) {
    const typename V::vec w = V::mul(V::load(s + t), inv);
    V::store(s + t, round_to_f16 ? V::round_f16(w) : w);
  }
  if (t < n) {
    const int rest = static_cast<int>(n - t);
    const typename V::vec w = V::mul(V::load_tail(s + t, rest), inv);
    V::store_tail(s + t, round_to_f16 ? V::round_f16(w) : w, rest);
  }
}

// The machine's ceilings, measured by the same instructions the kernels use (cpu/ceiling-probe.cc).
// Sum of n floats (n a multiple of kLanes × kReadChains) with independent accumulators, so the loads, not
// the add latency, set the pace; prefetch_bytes > 0 also asks for the lines that far ahead (on some machines
// the hardware prefetchers alone leave bandwidth unused, as the matmul kernels' own prefetching shows).
constexpr int kReadChains = 8;
template <class V>
float read_sum(const float* p, int64_t n, int64_t prefetch_bytes) {
  typename V::vec acc[kReadChains];
  for (auto& a : acc) a = V::zero();
  constexpr int64_t kStep = kReadChains * V::kLanes;
  constexpr int64_t kStepBytes = kStep * int64_t(sizeof(float));
  for (int64_t t = 0; t + kStep <= n; t += kStep) {
    if (prefetch_bytes > 0)
      for (int64_t c = 0; c < kStepBytes; c += 64) __builtin_prefetch(reinterpret_cast<const char*>(p + t) + prefetch_bytes + c);
    for (int c = 0; c < kReadChains; ++c) acc[c] = V::add(acc[c], V::load(p + t + c * V::kLanes));
  }
  for (int c = 1; c < kReadChains; ++c) acc[0] = V::add(acc[0], acc[c]);
  return V::reduce(acc[0]);
}

// iterations × kFmaChains independent FMAs of kLanes lanes: enough chains to cover the FMA latency on every
// pipe, so the result is the FMA throughput (2 × lanes × chains FLOP per iteration).
constexpr int kFmaChains = 12;
template <class V>
float fma_chains(int64_t iterations) {
  typename V::vec acc[kFmaChains];
  for (int c = 0; c < kFmaChains; ++c) acc[c] = V::set1(static_cast<float>(c));
  // x ← 0.999 x + 0.001 stays near 1: no overflow, no denormals.
  const typename V::vec a = V::set1(0.999f), b = V::set1(0.001f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kFmaChains; ++c) acc[c] = V::fma(acc[c], a, b);
  for (int c = 1; c < kFmaChains; ++c) acc[0] = V::add(acc[0], acc[c]);
  return V::reduce(acc[0]);
}

}  // namespace presskv::cpu::simd
