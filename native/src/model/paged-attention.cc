#include "model/paged-attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/half.h"
#include "cpu/kernels.h"

namespace presskv::model_ops {

namespace {
// Query rows (tokens) per task: their queries for one kv-head's group of heads meet each K page in one
// matmul, so a page is converted and read once per block instead of once per query.
constexpr int32_t kQueryBlock = 16;
}  // namespace

// Per task = (kv-head, block of query rows): scores of every query of the group against every slot of
// the head, page by page, into a [queries × length] buffer (never n×n over the whole prompt); a softmax
// per query over the slots it may see; then the weighted sum of V, page by page. With an f16 cache the
// normalised weights are rounded to f16 before they meet V, as llama.cpp does (its KQ·V product runs in
// the cache's type), so f16 results track llama.cpp's within ~1e-4 in probability; f32 stays f32.
void paged_attention(ThreadPool& pool, const PagedKvCache& cache, int32_t layer, const float* q, const int32_t* q_pos,
               int32_t n, int32_t n_heads, float* out) {
  const cpu::KernelTable& kt = cpu::kernels();
  const int32_t hd = cache.head_dim(), pt = cache.page_tokens();
  const int32_t n_kv = cache.n_kv_heads(), group = n_heads / n_kv;
  const DType dt = cache.dtype();
  const int64_t row = static_cast<int64_t>(n_heads) * hd;
  const int32_t blocks = (n + kQueryBlock - 1) / kQueryBlock;
  auto run = [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> qs, scores, scratch;
    thread_local std::vector<uint8_t> visible;
    for (int64_t task = begin; task < end; ++task) {
      const int32_t g = static_cast<int32_t>(task % n_kv);
      const int32_t t0 = static_cast<int32_t>(task / n_kv) * kQueryBlock, t1 = std::min(n, t0 + kQueryBlock);
      const KvHead& kh = cache.head(layer, g);
      const int32_t len = kh.length;
      const int32_t m = (t1 - t0) * group;  // query vectors: row-major (token, head of the group)
      qs.resize(static_cast<size_t>(m) * hd);
      for (int32_t t = t0; t < t1; ++t)
        std::copy(q + t * row + static_cast<int64_t>(g) * group * hd, q + t * row + static_cast<int64_t>(g + 1) * group * hd,
                  qs.begin() + static_cast<size_t>(t - t0) * group * hd);
      // Causal prefill: the block's queries see no slot past its last query's position, so pages whose every
      // slot lies beyond it are neither scored nor read (half the work of a prompt's attention). A page is
      // skipped by its lowest position, which holds for pages of any order (a press keeps slots in order,
      // but nothing here relies on it); `span` ends at the last page anything in the block may see.
      int32_t block_max_pos = q_pos[t0];
      for (int32_t t = t0 + 1; t < t1; ++t) block_max_pos = std::max(block_max_pos, q_pos[t]);
      const int32_t n_pages = (len + pt - 1) / pt;
      visible.assign(static_cast<size_t>(n_pages), 0);
      int32_t span = 0;
      for (int32_t p = 0; p < n_pages; ++p) {
        const int32_t base = p * pt, cnt = std::min(pt, len - base);
        const int32_t* pos = cache.positions(*kh.pages[p]);
        if (*std::min_element(pos, pos + cnt) <= block_max_pos) visible[p] = 1, span = base + cnt;
      }
      scores.resize(static_cast<size_t>(m) * std::max(span, 1));
      scratch.resize(cpu::matmul_scratch_floats(hd));
      for (int32_t p = 0; p * pt < span; ++p) {
        const int32_t base = p * pt, cnt = std::min(pt, span - base);
        if (visible[p])
          kt.matmul_block(qs.data(), m, hd, cache.keys(*kh.pages[p]), dt, hd, 0, cnt, scores.data() + base, span,
                          scratch.data());
      }
      for (int32_t i = 0; i < m; ++i) {
        const int32_t t = t0 + i / group, h = g * group + i % group;
        float* o = out + t * row + static_cast<int64_t>(h) * hd;
        std::fill(o, o + hd, 0.0f);
        float* sc = scores.data() + static_cast<size_t>(i) * span;
        const int32_t qp = q_pos[t];
        float mx = -std::numeric_limits<float>::infinity();
        for (int32_t p = 0; p * pt < span; ++p) {
          const int32_t base = p * pt, cnt = std::min(pt, span - base);
          if (!visible[p]) {
            std::fill(sc + base, sc + base + cnt, -std::numeric_limits<float>::infinity());
            continue;
          }
          const int32_t* pos = cache.positions(*kh.pages[p]);
          for (int32_t s = 0; s < cnt; ++s) {
            if (pos[s] <= qp) mx = std::max(mx, sc[base + s]);
            else sc[base + s] = -std::numeric_limits<float>::infinity();
          }
        }
        // Every query sees at least its own slot, unless a press dropped it and all before it: output 0.
        if (mx == -std::numeric_limits<float>::infinity()) continue;
        kt.softmax_shifted(sc, span, mx, dt == DType::F16);
        for (int32_t p = 0; p * pt < span; ++p) {
          const int32_t base = p * pt, cnt = std::min(pt, span - base);
          if (visible[p]) kt.axpy_rows(sc + base, cache.values(*kh.pages[p]), dt, cnt, hd, o);
        }
      }
    }
  };
  const int64_t tasks = static_cast<int64_t>(blocks) * n_kv;
  const int64_t macs = static_cast<int64_t>(n) * n_heads * 2 * hd * cache.length(layer, 0);
  if (macs < cpu::kMinParallelMacs) run(0, tasks);
  else pool.parallel_for(tasks, run);
}

}  // namespace presskv::model_ops
