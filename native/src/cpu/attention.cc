#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/half.h"
#include "cpu/kernels.h"

namespace presskv::cpu {

// Per (query row, head): scores against every slot of the head, page by page, into a buffer of the
// head's length (never an n×n matrix); a softmax over the visible ones; then the weighted sum of V,
// page by page. With an f16 cache the normalised weights are rounded to f16 before they meet V, as
// llama.cpp does (its KQ·V product runs in the cache's type), so f16 results track llama.cpp's within
// ~1e-4 in probability; an f32 cache keeps everything f32.
void attention(ThreadPool& pool, const PagedKvCache& cache, int32_t layer, const float* q, const int32_t* q_pos,
               int32_t n, int32_t n_heads, float* out) {
  const KernelTable& kt = kernels();
  const int32_t hd = cache.head_dim(), pt = cache.page_tokens();
  const int32_t group = n_heads / cache.n_kv_heads();
  const DType dt = cache.dtype();
  const int64_t row = static_cast<int64_t>(n_heads) * hd;
  auto run = [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    for (int64_t task = begin; task < end; ++task) {
      const int32_t t = static_cast<int32_t>(task / n_heads), h = static_cast<int32_t>(task % n_heads);
      const float* qv = q + t * row + static_cast<int64_t>(h) * hd;
      float* o = out + t * row + static_cast<int64_t>(h) * hd;
      std::fill(o, o + hd, 0.0f);
      const KvHead& kh = cache.head(layer, h / group);
      const int32_t qp = q_pos[t];
      if (static_cast<int32_t>(scores.size()) < kh.length) scores.resize(kh.length);

      float mx = -std::numeric_limits<float>::infinity();
      for (size_t p = 0; p * pt < static_cast<size_t>(kh.length); ++p) {
        const int32_t base = static_cast<int32_t>(p) * pt, cnt = std::min(pt, kh.length - base);
        const KvPage& page = *kh.pages[p];
        const int32_t* pos = cache.positions(page);
        float* sc = scores.data() + base;
        kt.dot_rows(qv, cache.keys(page), dt, cnt, hd, sc);
        for (int32_t s = 0; s < cnt; ++s) {
          if (pos[s] <= qp) mx = std::max(mx, sc[s]);
          else sc[s] = -std::numeric_limits<float>::infinity();
        }
      }
      // Every query sees at least its own slot, unless a press dropped it and all before it: output 0.
      if (mx == -std::numeric_limits<float>::infinity()) continue;
      float sum = 0.0f;
      for (int32_t s = 0; s < kh.length; ++s) {
        const float w = std::exp(scores[s] - mx);  // exp(-inf) = 0 for hidden slots
        scores[s] = w;
        sum += w;
      }
      const float inv = 1.0f / sum;
      for (int32_t s = 0; s < kh.length; ++s) {
        const float w = scores[s] * inv;
        scores[s] = dt == DType::F16 ? f16_to_f32(f32_to_f16(w)) : w;
      }
      for (size_t p = 0; p * pt < static_cast<size_t>(kh.length); ++p) {
        const int32_t base = static_cast<int32_t>(p) * pt, cnt = std::min(pt, kh.length - base);
        kt.axpy_rows(scores.data() + base, cache.values(*kh.pages[p]), dt, cnt, hd, o);
      }
    }
  };
  const int64_t tasks = static_cast<int64_t>(n) * n_heads;
  const int64_t macs = tasks * 2 * hd * cache.length(layer, 0);
  if (macs < kMinParallelMacs) run(0, tasks);
  else pool.parallel_for(tasks, run);
}

}  // namespace presskv::cpu
