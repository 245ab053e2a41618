#include "press/reconstruction-attention.h"

#include <algorithm>
#include <cmath>

#include "press/press-math.h"

namespace presskv::press {

std::vector<float> pass_attention(const LayerView& v, const PassAttentionOptions& o) {
  const int32_t H = v.n_heads, Hk = v.n_kv_heads, d = v.head_dim, D = v.hidden_size, g = H / Hk, q = v.q;
  const int32_t pass_start = v.n - q, width = o.end - o.begin, sinks = std::min(o.n_sink, o.begin);
  if (o.begin < 0 || o.end > pass_start || width < 0)
    throw EngineError(ErrorCode::Internal, "pass_attention: scored slots outside the context");
  std::vector<float> out((size_t)H * width, 0.0f);  // probabilities are >= 0: 0 is neutral for max and sum
  const std::vector<float> queries = window_queries(v, q);  // RoPE'd at the pass's positions
  std::vector<double> row_scale(q, 1.0);
  if (o.normalise_rows)
    for (int32_t i = 0; i < q; ++i) row_scale[i] = 1.0 / std::max(l2_norm(v.hidden + (size_t)i * D, D), 1e-12);
  const float scale = 1.0f / std::sqrt((float)d);
  v.model->parallel_for(H, [&](int64_t h_begin, int64_t h_end) {
    std::vector<float> logits(sinks + width + q);
    for (int32_t h = (int32_t)h_begin; h < (int32_t)h_end; ++h) {
      const int32_t kv = h / g;
      float* dst = out.data() + (size_t)h * width;
      for (int32_t i = 0; i < q; ++i) {
        const float* qv = queries.data() + ((size_t)h * q + i) * d;
        auto dot = [&](int32_t slot) {
          const float* k = v.key(kv, slot);
          float s = 0;
          for (int32_t c = 0; c < d; ++c) s += qv[c] * k[c];
          return s * scale;
        };
        int32_t j = 0;
        for (int32_t t = 0; t < sinks; ++t) logits[j++] = dot(t);
        for (int32_t t = o.begin; t < o.end; ++t) logits[j++] = dot(t);
        for (int32_t c = 0; c <= i; ++c) logits[j++] = dot(pass_start + c);  // causal: later pass keys are masked out
        softmax(logits.data(), j);
        for (int32_t t = 0; t < width; ++t) {
          const float p = (float)(logits[sinks + t] * row_scale[i]);
          dst[t] = o.use_max ? std::max(dst[t], p) : dst[t] + p / q;
        }
      }
    }
  });
  return out;
}

std::vector<float> output_l2_norms(const LayerView& v, int32_t begin, int32_t end) {
  return value_output_norms(v, 2, "this press", begin, end);
}

}  // namespace presskv::press
