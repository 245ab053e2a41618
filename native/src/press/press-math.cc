#include "press/press-math.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "press/rope.h"

namespace presskv::press {

void mask_padding(const LayerView& view, std::vector<float>& scores) {
  for (int32_t h = 0; h < view.n_kv_heads; ++h)
    for (int32_t t = 0; t < view.n && view.position(h, t) < 0; ++t)
      scores[(size_t)h * view.n + t] = -std::numeric_limits<float>::infinity();
}

int32_t kept_count(int32_t n, double ratio) {
  const double kept = (double)n * (1.0 - ratio);
  return kept <= 0 ? 0 : (int32_t)kept;
}

float max_score(const float* scores, int64_t count) {
  float best = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < count; ++i)
    if (std::isfinite(scores[i])) best = std::max(best, scores[i]);
  return std::isfinite(best) ? best : 0.0f;
}

void fill_positions(std::vector<float>& scores, int32_t n_kv_heads, int32_t n, int32_t begin, int32_t end, float value) {
  begin = std::max(begin, 0);
  end = std::min(end, n);
  for (int32_t h = 0; h < n_kv_heads; ++h)
    for (int32_t t = begin; t < end; ++t) scores[(size_t)h * n + t] = value;
}

void mean_over_groups(const float* per_head, int32_t n_heads, int32_t n_kv_heads, int64_t m, float* out) {
  const int32_t g = n_heads / n_kv_heads;
  for (int32_t kv = 0; kv < n_kv_heads; ++kv)
    for (int64_t t = 0; t < m; ++t) {
      double sum = 0;
      for (int32_t j = 0; j < g; ++j) sum += per_head[((int64_t)kv * g + j) * m + t];
      out[kv * m + t] = (float)(sum / g);
    }
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  if (!std::isfinite(mx)) {
    for (int64_t i = 0; i < n; ++i) x[i] = 0.0f;
    return;
  }
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  for (int64_t i = 0; i < n; ++i) x[i] = (float)(x[i] / sum);
}

void average_pool(const float* x, int64_t n, int32_t kernel, float* out) {
  const int32_t pad = kernel / 2;
  for (int64_t t = 0; t < n; ++t) {
    double sum = 0;
    for (int64_t j = t - pad; j <= t + pad; ++j)
      if (j >= 0 && j < n) sum += x[j];
    out[t] = (float)(sum / kernel);
  }
}

void global_zscore(std::vector<float>& x) {
  if (x.empty()) return;
  double mean = 0;
  for (float v : x) mean += v;
  mean /= x.size();
  double var = 0;
  for (float v : x) var += (v - mean) * (v - mean);
  var = x.size() > 1 ? var / (x.size() - 1) : 0.0;
  const double sd = std::max(std::sqrt(var), 1e-6);
  for (float& v : x) v = (float)((v - mean) / sd);
}

double l2_norm(const float* x, int32_t d) {
  double s = 0;
  for (int32_t i = 0; i < d; ++i) s += (double)x[i] * x[i];
  return std::sqrt(s);
}

std::vector<float> window_queries(const LayerView& view, int32_t rows) {
  const int32_t H = view.n_heads, d = view.head_dim;
  std::vector<float> queries((size_t)H * rows * d);
  view.model->prerope_queries(view.layer, view.hidden + (int64_t)(view.q - rows) * view.hidden_size, rows, queries.data());
  std::vector<int32_t> positions(rows);
  for (int32_t i = 0; i < rows; ++i) positions[i] = view.first_position + view.q - rows + i;
  Rope(view.model->config()).rotate_rows(queries.data(), H, rows, positions.data());
  return queries;
}

std::vector<float> window_attention(const LayerView& view, int32_t w) {
  const int32_t H = view.n_heads, Hk = view.n_kv_heads, d = view.head_dim, n = view.n, g = H / Hk;
  const std::vector<float> queries = window_queries(view, w);
  const float scale = 1.0f / std::sqrt((float)d);
  const int32_t kept_cols = n - w;
  std::vector<float> out((size_t)H * w * kept_cols);
  std::vector<float> row(n);
  for (int32_t h = 0; h < H; ++h) {
    const int32_t kv = h / g;
    for (int32_t i = 0; i < w; ++i) {
      const float* qv = queries.data() + ((int64_t)h * w + i) * d;
      const int32_t query_position = view.first_position + view.q - w + i;
      for (int32_t t = 0; t < n; ++t) {
        if (view.position(kv, t) > query_position || view.position(kv, t) < 0) {
          row[t] = -std::numeric_limits<float>::infinity();
          continue;
        }
        const float* kvec = view.key(kv, t);
        float dot = 0;
        for (int32_t c = 0; c < d; ++c) dot += qv[c] * kvec[c];
        row[t] = dot * scale;
      }
      softmax(row.data(), n);
      std::copy(row.begin(), row.begin() + kept_cols, out.begin() + ((int64_t)h * w + i) * kept_cols);
    }
  }
  return out;
}

}  // namespace presskv::press

namespace presskv::press {

std::vector<double> attention_column_sums(const LayerView& view) {
  const int32_t H = view.n_heads, Hk = view.n_kv_heads, d = view.head_dim, n = view.n, q = view.q, g = H / Hk;
  std::vector<double> sums((size_t)H * n, 0.0);
  if (view.attentions) {
    for (int32_t h = 0; h < H; ++h)
      for (int32_t i = 0; i < q; ++i)
        for (int32_t t = 0; t < n; ++t) sums[(size_t)h * n + t] += view.attentions[((int64_t)h * q + i) * n + t];
    return sums;
  }
  const std::vector<float> queries = window_queries(view, q);
  const float scale = 1.0f / std::sqrt((float)d);
  std::vector<float> row(n);
  for (int32_t h = 0; h < H; ++h) {
    const int32_t kv = h / g;
    for (int32_t i = 0; i < q; ++i) {
      const float* qv = queries.data() + ((int64_t)h * q + i) * d;
      const int32_t query_position = view.first_position + i;
      for (int32_t t = 0; t < n; ++t) {
        if (view.position(kv, t) > query_position || view.position(kv, t) < 0) {
          row[t] = -std::numeric_limits<float>::infinity();
          continue;
        }
        const float* k = view.key(kv, t);
        float dot = 0;
        for (int32_t c = 0; c < d; ++c) dot += qv[c] * k[c];
        row[t] = dot * scale;
      }
      softmax(row.data(), n);
      for (int32_t t = 0; t < n; ++t) sums[(size_t)h * n + t] += row[t];
    }
  }
  return sums;
}

void rerotate_to_contiguous(LayerView& view, LayerDecision& decision) {
  if (decision.unchanged) decision.keep_all(view.n_kv_heads, view.n);
  Rope rope(view.model->config());
  for (int32_t h = 0; h < view.n_kv_heads; ++h) {
    std::vector<int32_t>& kept = decision.kept[h];
    std::sort(kept.begin(), kept.end(), [&](int32_t a, int32_t b) {
      return view.position(h, a) != view.position(h, b) ? view.position(h, a) < view.position(h, b) : a < b;
    });
    for (int32_t j = 0; j < (int32_t)kept.size(); ++j) {
      const int32_t slot = kept[j];
      const int32_t delta = j - view.position(h, slot);
      if (delta != 0) rope.rotate(view.key(h, slot), delta);
      view.position(h, slot) = j;
    }
    std::sort(kept.begin(), kept.end());
  }
  decision.unchanged = false;
  decision.keys_modified = true;
  decision.positions_modified = true;
}

}  // namespace presskv::press

namespace presskv::press {

OwnedView gather_view(const LayerView& v, const std::vector<std::vector<int32_t>>& slots) {
  OwnedView o;
  const int32_t m = slots.empty() ? 0 : (int32_t)slots[0].size(), d = v.head_dim, D = v.hidden_size;
  o.keys.resize((size_t)v.n_kv_heads * m * d);
  o.values.resize(o.keys.size());
  o.positions.resize((size_t)v.n_kv_heads * m);
  for (int32_t h = 0; h < v.n_kv_heads; ++h)
    for (int32_t j = 0; j < m; ++j) {
      const int32_t t = slots[h][j];
      std::copy(v.key(h, t), v.key(h, t) + d, o.keys.begin() + ((size_t)h * m + j) * d);
      std::copy(v.value(h, t), v.value(h, t) + d, o.values.begin() + ((size_t)h * m + j) * d);
      o.positions[(size_t)h * m + j] = v.position(h, t);
    }
  // Row r of X is slot n − q + r.
  int32_t rows = 0, first_row = -1;
  for (int32_t j = 0; j < m; ++j) {
    const int32_t row = slots[0][j] - (v.n - v.q);
    if (row < 0) continue;
    if (first_row < 0) first_row = row;
    o.hidden.insert(o.hidden.end(), v.hidden + (size_t)row * D, v.hidden + (size_t)(row + 1) * D);
    ++rows;
  }
  o.view = v;
  o.view.n = m;
  o.view.q = rows;
  o.view.hidden = o.hidden.data();
  o.view.keys = o.keys.data();
  o.view.values = o.values.data();
  o.view.positions = o.positions.data();
  o.view.attentions = nullptr;  // eager weights do not survive slicing (kvpress forbids them here too)
  o.view.first_position = rows > 0 ? v.first_position + first_row : v.first_position + v.q;
  return o;
}

OwnedView slice_view(const LayerView& v, int32_t begin, int32_t end) {
  std::vector<std::vector<int32_t>> slots(v.n_kv_heads);
  for (auto& head : slots)
    for (int32_t t = begin; t < end; ++t) head.push_back(t);
  return gather_view(v, slots);
}

}  // namespace presskv::press

namespace presskv::press {

std::vector<float> value_output_norms(const LayerView& v, int p, const std::string& press, int32_t begin, int32_t end) {
  const int32_t H = v.n_heads, Hk = v.n_kv_heads, d = v.head_dim, D = v.hidden_size, g = H / Hk, n = end - begin;
  if (!v.model->has_output_projection(v.layer))
    throw EngineError(ErrorCode::InvalidArgument, press + " needs the output projection of the layer");
  std::vector<float> wo((size_t)d * D), out((size_t)H * n);
  std::vector<double> row(D);
  for (int32_t h = 0; h < H; ++h) {
    v.model->output_projection(v.layer, h, wo.data());
    for (int32_t t = 0; t < n; ++t) {
      std::fill(row.begin(), row.end(), 0.0);
      const float* val = v.value(h / g, begin + t);
      for (int32_t c = 0; c < d; ++c)
        for (int32_t o = 0; o < D; ++o) row[o] += (double)val[c] * wo[(size_t)c * D + o];
      double norm = 0;
      for (double x : row) norm += p == 1 ? std::fabs(x) : x * x;
      out[(size_t)h * n + t] = (float)(p == 1 ? norm : std::sqrt(norm));
    }
  }
  return out;
}

}  // namespace presskv::press
