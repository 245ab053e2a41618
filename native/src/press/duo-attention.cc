// DuoAttentionPress (kvpress-spec §2.11): the lowest-scoring heads (over all layers) become streaming
// heads that keep only sink + recent tokens — freed for real, per head.
// Artefact (option 'path'): JSON {"sinkSize": int, "recentSize": int, "headScores": number[L][Hk]}.
// onTheFlyScoring: head scores estimated from this prefill's own hidden states (sink 128, recent 256);
// the press then decides after the last layer (all layers stay uncompressed until then).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "press/artefacts.h"
#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/rope.h"
#include "press/scorer-press.h"

namespace presskv::press {
namespace {

class DuoAttentionPress : public Press {
 public:
  DuoAttentionPress(const PressConfig& c, const ModelConfig* model)
      : name_(c.name),
        head_ratio_(checked_ratio(c, "headCompressionRatio", true)),
        on_the_fly_(c.flag("onTheFlyScoring")) {
    if (on_the_fly_) {
      sink_ = 128;
      recent_ = 256;
      return;
    }
    const JsonValue json = read_json_file(c.artefact());
    const JsonValue* sink = json.find("sinkSize");
    const JsonValue* recent = json.find("recentSize");
    const JsonValue* scores = json.find("headScores");
    if (!sink || !sink->is_number() || !recent || !recent->is_number() || !scores || !scores->is_array() || sink->number < 0 ||
        recent->number < 0)
      throw EngineError(ErrorCode::CorruptFile, c.artefact_path + ": expected {sinkSize, recentSize, headScores[L][Hk]}");
    sink_ = (int32_t)sink->number;
    recent_ = (int32_t)recent->number;
    for (const JsonValue& row : scores->array) {
      if (!row.is_array()) throw EngineError(ErrorCode::CorruptFile, c.artefact_path + ": headScores must be number[L][Hk]");
      std::vector<double> r;
      for (const JsonValue& x : row.array) {
        if (!x.is_number()) throw EngineError(ErrorCode::CorruptFile, c.artefact_path + ": headScores must be number[L][Hk]");
        r.push_back(std::clamp(x.number, 0.0, 1.0));
      }
      head_scores_.push_back(r);
    }
    if (head_scores_.empty() || (model && ((int32_t)head_scores_.size() != model->n_layers)))
      throw EngineError(ErrorCode::CorruptFile, c.artefact_path + ": headScores must have one row per layer");
    for (const auto& row : head_scores_)
      if (row.size() != head_scores_[0].size() || (model && (int32_t)row.size() != model->n_kv_heads))
        throw EngineError(ErrorCode::CorruptFile, c.artefact_path + ": every headScores row must have one score per kv-head");
    mark_streaming();
  }
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Other; }
  double compression_ratio() const override { return achieved_; }
  bool defers_to_finish() const override { return on_the_fly_; }
  void begin(int32_t n_layers) override {
    if (on_the_fly_) head_scores_.assign(n_layers, {});
    evicted_total_ = slots_total_ = 0;
    achieved_ = 0;
  }

  void compress(LayerView& v, LayerDecision& out) override {
    if (on_the_fly_) {
      head_scores_[v.layer] = estimate_scores(v);
      out.unchanged = true;
      return;
    }
    decide(v, out);
  }
  void finish(std::vector<LayerView>& views, std::vector<LayerDecision>& out) override {
    mark_streaming();
    for (size_t l = 0; l < views.size(); ++l) decide(views[l], out[l]);
  }

 private:
  void mark_streaming() {
    std::vector<std::pair<double, int32_t>> all;
    const int32_t hk = (int32_t)head_scores_[0].size();
    for (size_t l = 0; l < head_scores_.size(); ++l)
      for (int32_t h = 0; h < hk; ++h) all.push_back({head_scores_[l][h], (int32_t)(l * hk + h)});
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const size_t streaming = (size_t)std::nearbyint(all.size() * head_ratio_);
    streaming_.assign(all.size(), false);
    for (size_t i = 0; i < streaming && i < all.size(); ++i) streaming_[all[i].second] = true;
    heads_per_layer_ = hk;
  }
  void decide(LayerView& v, LayerDecision& out) {
    if (v.layer >= (int32_t)head_scores_.size() || heads_per_layer_ != v.n_kv_heads)
      throw EngineError(ErrorCode::CorruptFile, name_ + ": head scores do not match the model");
    const int32_t n = v.n;
    int64_t evicted = 0;
    out.unchanged = true;
    out.keep_all(v.n_kv_heads, n);
    if (n > sink_ + recent_)
      for (int32_t h = 0; h < v.n_kv_heads; ++h) {
        if (!streaming_[(size_t)v.layer * heads_per_layer_ + h]) continue;
        std::vector<int32_t> keep;
        for (int32_t t = 0; t < n; ++t)
          if (t < sink_ || t >= n - recent_) keep.push_back(t);
        evicted += n - (int64_t)keep.size();
        out.kept[h] = keep;
        out.unchanged = false;
      }
    evicted_total_ += evicted;
    slots_total_ += (int64_t)v.n_kv_heads * n;
    achieved_ = (double)evicted_total_ / (double)slots_total_;
  }

  // Area under the cumulative attention of the mean query (at position 499) over the mean key repeated
  // at positions 0..499, averaged over each group (kvpress's on-the-fly estimator, on this context).
  std::vector<double> estimate_scores(const LayerView& v) const {
    const int32_t H = v.n_heads, Hk = v.n_kv_heads, d = v.head_dim, g = H / Hk, q = v.q, span = 500;
    std::vector<float> queries((size_t)H * q * d), keys((size_t)Hk * q * d);
    v.model->prerope_queries(v.layer, v.hidden, q, queries.data());
    v.model->prerope_keys(v.layer, v.hidden, q, keys.data());
    Rope rope(v.model->config());
    std::vector<double> scores(Hk, 0.0);
    std::vector<float> qm(d), km(d), kp(d);
    std::vector<float> logits(span);
    for (int32_t h = 0; h < H; ++h) {
      const int32_t kv = h / g;
      std::fill(qm.begin(), qm.end(), 0.0f);
      std::fill(km.begin(), km.end(), 0.0f);
      for (int32_t t = 0; t < q; ++t)
        for (int32_t c = 0; c < d; ++c) {
          qm[c] += queries[((size_t)h * q + t) * d + c] / q;
          km[c] += keys[((size_t)kv * q + t) * d + c] / q;
        }
      rope.rotate(qm.data(), span - 1);
      for (int32_t p = 0; p < span; ++p) {
        kp = km;
        rope.rotate(kp.data(), p);
        double dot = 0;
        for (int32_t c = 0; c < d; ++c) dot += (double)qm[c] * kp[c];
        logits[p] = (float)(dot / std::sqrt((double)d));
      }
      softmax(logits.data(), span);
      double cumulative = 0, area = 0;
      for (int32_t p = 0; p < span; ++p) {
        cumulative += logits[p];
        area += cumulative;
      }
      scores[kv] += area / span / g;
    }
    return scores;
  }

  std::string name_;
  double head_ratio_;
  bool on_the_fly_;
  int32_t sink_ = 0, recent_ = 0, heads_per_layer_ = 0;
  std::vector<std::vector<double>> head_scores_;
  std::vector<bool> streaming_;
  double achieved_ = 0;
  int64_t evicted_total_ = 0, slots_total_ = 0;
};

const PressRegistration<DuoAttentionPress> duo_attention_registration("DuoAttentionPress");

}  // namespace

}  // namespace presskv::press
