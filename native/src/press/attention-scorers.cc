// Scorers built on the attention of (a window of) queries over the cache (kvpress-spec §2.3).
#include <algorithm>
#include <cmath>

#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"
#include "press/selection.h"

namespace presskv::press {
namespace {

// Attention of the last w queries over the first n − w slots, [H, w, n − w]: the eager weights when the
// forward supplied them, recomputed otherwise.
std::vector<float> window_weights(const LayerView& v, int32_t w) {
  if (!v.attentions) return window_attention(v, w);
  const int32_t H = v.n_heads, n = v.n, q = v.q;
  std::vector<float> out((size_t)H * w * (n - w));
  for (int32_t h = 0; h < H; ++h)
    for (int32_t i = 0; i < w; ++i)
      for (int32_t t = 0; t < n - w; ++t)
        out[((size_t)h * w + i) * (n - w) + t] = v.attentions[((int64_t)h * q + (q - w + i)) * n + t];
  return out;
}

// [Hk, n − w] group-mean scores + the last w slots of every head set to max + 1.
void append_window(const std::vector<float>& grouped, int32_t Hk, int32_t n, int32_t w, std::vector<float>& s) {
  const float top = max_score(grouped.data(), (int64_t)grouped.size()) + 1.0f;
  s.resize((size_t)Hk * n);
  for (int32_t h = 0; h < Hk; ++h) {
    std::copy(grouped.begin() + (size_t)h * (n - w), grouped.begin() + (size_t)(h + 1) * (n - w), s.begin() + (size_t)h * n);
    for (int32_t t = n - w; t < n; ++t) s[(size_t)h * n + t] = top;
  }
}

class SnapKVPress : public ScorerPress {
 public:
  explicit SnapKVPress(const PressConfig& c)
      : ScorerPress(c), window_((int32_t)c.integer("windowSize", 1)), kernel_((int32_t)c.integer("kernelSize", 1)) {
    // Schema-checked; kept as a guard: outside it the selection would size its buffers wrongly.
    if (kernel_ % 2 == 0) c.internal("kernelSize must be odd");
  }
  void validate(int32_t n_context) const override {
    if (ratio_ > 0 && n_context <= window_)
      invalid(name_, "windowSize (" + std::to_string(window_) + ") must be shorter than the context (" +
                         std::to_string(n_context) + " tokens)");
  }
  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t w = window_, n = v.n, H = v.n_heads;
    if (v.q <= w || n <= w) invalid(name_, "windowSize (" + std::to_string(w) + ") must be shorter than the " + std::to_string(v.q) + " tokens being compressed");
    const std::vector<float> attn = window_weights(v, w);
    const int32_t m = n - w;
    std::vector<float> mean_rows((size_t)H * m), pooled((size_t)H * m);
    for (int32_t h = 0; h < H; ++h) {
      for (int32_t t = 0; t < m; ++t) {
        double sum = 0;
        for (int32_t i = 0; i < w; ++i) sum += attn[((size_t)h * w + i) * m + t];
        mean_rows[(size_t)h * m + t] = (float)(sum / w);
      }
      average_pool(mean_rows.data() + (size_t)h * m, m, kernel_, pooled.data() + (size_t)h * m);
    }
    std::vector<float> grouped((size_t)v.n_kv_heads * m);
    mean_over_groups(pooled.data(), H, v.n_kv_heads, m, grouped.data());
    append_window(grouped, v.n_kv_heads, n, w, s);
  }

 protected:
  int32_t window_, kernel_;
};

class PyramidKVPress : public SnapKVPress {
 public:
  explicit PyramidKVPress(const PressConfig& c) : SnapKVPress(c), beta_(c.number("beta")) {}
  void compress(LayerView& v, LayerDecision& out) override {
    if (ratio_ == 0.0) {
      out.unchanged = true;
      return;
    }
    score(v, out.scores);
    const int32_t k = pyramid_kept_count(v.n, window_, beta_, ratio_, v.n_layers, v.layer);
    select_per_head(out.scores, v.n_kv_heads, v.n, k, out);
  }

 private:
  double beta_;
};

class TOVAPress : public ScorerPress {
 public:
  using ScorerPress::ScorerPress;
  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t n = v.n, H = v.n_heads, m = n - 1;
    if (n < 2) invalid(name_, "needs at least 2 cached tokens");
    const std::vector<float> attn = window_weights(v, 1);
    std::vector<float> grouped((size_t)v.n_kv_heads * m);
    for (int32_t t = 0; t < m; ++t) {
      double sum = 0;
      for (int32_t h = 0; h < H; ++h) sum += attn[(size_t)h * m + t];
      for (int32_t kv = 0; kv < v.n_kv_heads; ++kv) grouped[(size_t)kv * m + t] = (float)(sum / H);
    }
    append_window(grouped, v.n_kv_heads, n, 1, s);
  }
};

class ObservedAttentionPress : public ScorerPress {
 public:
  using ScorerPress::ScorerPress;
  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t n = v.n, H = v.n_heads;
    const std::vector<double> sums = attention_column_sums(v);
    std::vector<float> per_head((size_t)H * n);
    for (int32_t h = 0; h < H; ++h)
      for (int32_t t = 0; t < n; ++t) per_head[(size_t)h * n + t] = (float)(sums[(size_t)h * n + t] / (double)(n - t));
    s.resize((size_t)v.n_kv_heads * n);
    mean_over_groups(per_head.data(), H, v.n_kv_heads, n, s.data());
  }
};

// SnapKV's window = the question that follows the context (kvpress-spec §2.3 FinchPress). The engine
// prefills context + question and sets windowSize to the question's token count (the native side never
// looks for a delimiter token).
class FinchPress : public ScorerPress {
 public:
  explicit FinchPress(const PressConfig& c)
      : ScorerPress(c),
        // Both are kvpress `None` options: the engine fills windowSize once it knows the question, and no
        // chunkLength means one chunk.
        window_(c.has("windowSize") ? (int32_t)c.integer("windowSize", 1) : 0),
        chunk_(c.has("chunkLength") ? (int32_t)c.integer("chunkLength", 1) : 0),
        normalize_(c.flag("normalizeScores")),
        rerotate_(c.flag("rerotateKeys")) {}
  void validate(int32_t n_context) const override {
    if (ratio_ > 0 && window_ <= 0) invalid(name_, "needs windowSize = the number of question tokens after the context");
    if (ratio_ > 0 && n_context <= window_)
      invalid(name_, "the question window (" + std::to_string(window_) + ") must be shorter than the input (" + std::to_string(n_context) + ")");
  }
  void score(const LayerView& v, std::vector<float>& s) override {
    const int32_t w = window_, n = v.n, H = v.n_heads, m = n - w;
    if (w <= 0 || v.q <= w) invalid(name_, "needs 0 < windowSize < tokens being compressed");
    const std::vector<float> attn = window_weights(v, w);
    std::vector<float> mean_rows((size_t)H * m);
    for (int32_t h = 0; h < H; ++h)
      for (int32_t t = 0; t < m; ++t) {
        double sum = 0;
        for (int32_t i = 0; i < w; ++i) {
          const double factor = normalize_ ? (double)(v.first_position + v.q - w + i) : 1.0;
          sum += attn[((size_t)h * w + i) * m + t] * factor;
        }
        mean_rows[(size_t)h * m + t] = (float)(sum / w);
      }
    std::vector<float> grouped((size_t)v.n_kv_heads * m);
    mean_over_groups(mean_rows.data(), H, v.n_kv_heads, m, grouped.data());
    append_window(grouped, v.n_kv_heads, n, w, s);
  }
  void compress(LayerView& v, LayerDecision& out) override {
    if (ratio_ == 0.0) {
      out.unchanged = true;
      return;
    }
    score(v, out.scores);
    if (chunk_ <= 0) {
      select_per_head(out.scores, v.n_kv_heads, v.n, kept_count(v.n, ratio_), out);
    } else {
      out.unchanged = false;
      out.kept.assign(v.n_kv_heads, {});
      for (int32_t h = 0; h < v.n_kv_heads; ++h)
        for (int32_t start = 0; start < v.n; start += chunk_) {
          const int32_t len = std::min(chunk_, v.n - start);
          for (int32_t t : top_k(out.scores.data() + (size_t)h * v.n + start, len, std::max(1, kept_count(len, ratio_))))
            out.kept[h].push_back(start + t);
        }
    }
    if (rerotate_) rerotate_to_contiguous(v, out);
  }
  bool rerotates_keys() const override { return rerotate_; }

 private:
  int32_t window_, chunk_;
  bool normalize_, rerotate_;
};

const PressRegistration<SnapKVPress> snap_kv_registration("SnapKVPress");
const PressRegistration<PyramidKVPress> pyramid_kv_registration("PyramidKVPress");
const PressRegistration<TOVAPress> tova_registration("TOVAPress");
const PressRegistration<ObservedAttentionPress> observed_attention_registration("ObservedAttentionPress");
const PressRegistration<FinchPress> finch_registration("FinchPress");

}  // namespace

}  // namespace presskv::press
