// Presses that compress during generation (kvpress-spec §4): DecodingPress, CompressionRatioDecodingPress,
// PrefillDecodingPress and CAMPress. Native state per layer: the attention inputs X of the forwards since
// the last compression (a bounded buffer), a step counter, and for CAM the cumulative attention per slot.
// A forward's X rows are the newest slots of the cache, which holds because the buffer is cleared at every
// compression.
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <random>

#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"
#include "press/selection.h"

namespace presskv::press {
namespace {

// The ratio r with floor(n(1 − r)) == target exactly (0 when n <= target).
double ratio_for_target(int32_t n, int32_t target) {
  if (n <= target) return 0.0;
  double r = 1.0 - (double)target / n;
  if (kept_count(n, r) == target) return r;
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < 60; ++i) {
    r = (lo + hi) / 2;
    const int32_t kept = kept_count(n, r);
    if (kept == target) return r;
    if (kept > target) lo = r;
    else hi = r;
  }
  return r;
}

class DecodingPress : public Press {
 public:
  DecodingPress(const PressConfig& c, const ModelConfig* m)
      : name_(c.name),
        base_(make_inner(c, m)),
        interval_((int32_t)c.integer("compressionInterval", 1)),
        // CompressionRatioDecodingPress has a target ratio instead of a target size.
        target_(c.name == "CompressionRatioDecodingPress" ? 0 : (int32_t)c.integer("targetSize", 1)),
        buffer_size_((int32_t)c.integer("hiddenStatesBufferSize", 0)),
        by_ratio_(c.name == "CompressionRatioDecodingPress"),
        target_ratio_(by_ratio_ ? checked_ratio(c, "targetCompressionRatio") : 0.0) {
    if (!base_->is_scorer() && base_->name() != "AdaKVPress")
      invalid(name_, "compresses with a scorer press or AdaKVPress; " + base_->name() + " is neither");
    rng_.seed((uint64_t)c.optional_number("seed").value_or(0));
  }
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Decoding; }
  double compression_ratio() const override { return by_ratio_ ? target_ratio_ : 0.0; }
  bool acts_during_decoding() const override { return true; }
  void begin(int32_t n_layers) override {
    base_->begin(n_layers);
    buffers_.assign(n_layers, {});
    steps_.assign(n_layers, 0);
  }
  void compress(LayerView&, LayerDecision& out) override { out.unchanged = true; }  // prefill untouched
  void copy_sequence_state(const Press& from) override {
    Press::copy_sequence_state(from);
    const auto& other = same_press_as<DecodingPress>(from);
    base_->copy_sequence_state(*other.base_);
    buffers_ = other.buffers_;
    steps_ = other.steps_;
  }

  void decode(LayerView& v, LayerDecision& out) override {
    out.unchanged = true;
    if (v.layer >= (int32_t)buffers_.size()) {
      buffers_.resize(v.layer + 1);
      steps_.resize(v.layer + 1, 0);
    }
    auto& buffer = buffers_[v.layer];
    buffer.emplace_back(v.hidden, v.hidden + (size_t)v.q * v.hidden_size);
    steps_[v.layer] += 1;
    before_step(v);
    const int32_t target = by_ratio_ ? std::max(1, kept_count(v.first_position + v.q, target_ratio_)) : target_;
    if (should_compress(v, target)) {
      std::vector<float> x;
      for (const auto& rows : buffer) x.insert(x.end(), rows.begin(), rows.end());
      const int32_t rows = std::min<int32_t>((int32_t)(x.size() / v.hidden_size), v.n);
      LayerView sub = v;
      sub.hidden = x.data() + (x.size() - (size_t)rows * v.hidden_size);
      sub.q = rows;
      sub.first_position = v.first_position + v.q - rows;
      compress_to(sub, target, out);
      steps_[v.layer] = 0;
      buffer.clear();
    }
    while ((int32_t)buffer.size() > buffer_size_) buffer.pop_front();
  }

 protected:
  virtual void before_step(const LayerView&) {}
  virtual bool should_compress(const LayerView& v, int32_t target) const {
    return steps_[v.layer] >= interval_ || v.q >= target;
  }
  virtual void compress_to(LayerView& v, int32_t target, LayerDecision& out) {
    const double r = ratio_for_target(v.n, target);
    if (r == 0.0) return;
    const double saved = base_->compression_ratio();
    base_->set_compression_ratio(r);
    base_->compress(v, out);
    base_->set_compression_ratio(saved);
  }

  std::string name_;
  std::unique_ptr<Press> base_;
  int32_t interval_, target_, buffer_size_;
  bool by_ratio_;
  double target_ratio_;
  std::vector<std::deque<std::vector<float>>> buffers_;
  std::vector<int32_t> steps_;
};

// CaM (kvpress-spec §4.4): like DecodingPress, but one ranking for all heads, and the best evicted tokens
// are merged (stochastically, by their cumulative attention) into the values of the kept tokens after them.
class CAMPress : public DecodingPress {
 public:
  CAMPress(const PressConfig& c, const ModelConfig* m)
      : DecodingPress(c, m), merge_budget_((int32_t)c.integer("mergeBudget", 1)) {}
  void begin(int32_t n_layers) override {
    DecodingPress::begin(n_layers);
    attention_.assign(n_layers, {});
  }
  void copy_sequence_state(const Press& from) override {
    DecodingPress::copy_sequence_state(from);
    attention_ = same_press_as<CAMPress>(from).attention_;
  }

 protected:
  // Cumulative attention of each step's last query over every slot, averaged over the group: [Hk][n].
  void before_step(const LayerView& v) override {
    if (v.layer >= (int32_t)attention_.size()) attention_.resize(v.layer + 1);
    auto& acc = attention_[v.layer];
    const int32_t H = v.n_heads, Hk = v.n_kv_heads, d = v.head_dim, g = H / Hk, n = v.n;
    acc.resize(Hk);
    for (auto& head : acc) head.resize(n, 0.0);  // zero-padded as the cache grows
    const std::vector<float> query = window_queries(v, 1);
    const int32_t query_position = v.first_position + v.q - 1;
    std::vector<float> row(n);
    const float scale = 1.0f / std::sqrt((float)d);
    for (int32_t h = 0; h < H; ++h) {
      const int32_t kv = h / g;
      for (int32_t t = 0; t < n; ++t) {
        if (v.position(kv, t) > query_position || v.position(kv, t) < 0) {
          row[t] = -std::numeric_limits<float>::infinity();
          continue;
        }
        float dot = 0;
        for (int32_t c = 0; c < d; ++c) dot += query[(size_t)h * d + c] * v.key(kv, t)[c];
        row[t] = dot * scale;
      }
      softmax(row.data(), n);
      for (int32_t t = 0; t < n; ++t) acc[kv][t] += row[t] / g;
    }
  }
  bool should_compress(const LayerView& v, int32_t target) const override {
    return (steps_[v.layer] >= interval_ && v.n > target) || v.q >= target;
  }
  void compress_to(LayerView& v, int32_t target, LayerDecision& out) override {
    const int32_t n = v.n, Hk = v.n_kv_heads, d = v.head_dim;
    if (n <= target) return;
    const int32_t steps = steps_[v.layer];
    const double saved = base_->compression_ratio();
    base_->set_compression_ratio(ratio_for_target(n, target));
    std::vector<float> scores;
    base_->score(v, scores);
    base_->set_compression_ratio(saved);
    std::vector<float> ranking(n, 0.0f);
    for (int32_t h = 0; h < Hk; ++h)
      for (int32_t t = 0; t < n; ++t) ranking[t] += scores[(size_t)h * n + t] / Hk;
    std::vector<int32_t> kept = top_k(ranking.data(), n, target);
    std::vector<bool> is_kept(n, false);
    for (int32_t t : kept) is_kept[t] = true;
    // Merge candidates: the `steps` best evicted tokens (ties → later slots).
    std::vector<int32_t> evicted;
    for (int32_t t = 0; t < n; ++t)
      if (!is_kept[t]) evicted.push_back(t);
    std::stable_sort(evicted.begin(), evicted.end(), [&](int32_t a, int32_t b) {
      return ranking[a] != ranking[b] ? ranking[a] > ranking[b] : a > b;
    });
    evicted.resize(std::min<size_t>(evicted.size(), (size_t)std::max(0, steps)));
    auto& acc = attention_[v.layer];
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (int32_t m : evicted) {
      std::vector<int32_t> window;
      for (int32_t t : kept)
        if (v.position(0, t) > v.position(0, m) && (int32_t)window.size() < merge_budget_) window.push_back(t);
      if (window.empty()) continue;
      for (int32_t h = 0; h < Hk; ++h) {
        double mean = 0;
        for (int32_t t : window) mean += acc[h][t] / window.size();
        double p = acc[h][m] / mean;
        if (std::isnan(p)) p = 0;
        if (std::isinf(p)) p = 1;
        p = std::clamp(p, 0.0, 1.0);
        if (uniform(rng_) >= p) continue;
        const float* vm = v.value(h, m);
        for (int32_t t : window) {
          float* vt = v.value(h, t);
          for (int32_t c = 0; c < d; ++c) vt[c] += vm[c] / (float)window.size();
        }
        out.values_modified = true;
      }
    }
    out.unchanged = false;
    out.kept.assign(Hk, kept);
    for (auto& head : acc) {
      std::vector<double> pruned;
      for (int32_t t : kept) pruned.push_back(head[t]);
      head = std::move(pruned);
    }
  }

 private:
  int32_t merge_budget_;
  std::vector<std::vector<std::vector<double>>> attention_;  // [layer][kv-head][slot]
};

class PrefillDecodingPress : public Press {
 public:
  PrefillDecodingPress(const PressConfig& c, const ModelConfig* m) : name_(c.name) {
    if (c.children.empty() || c.children.size() > 2) invalid(name_, "needs a prefilling press, a decoding press or both (presses)");
    for (const PressConfig& child : c.children) {
      std::unique_ptr<Press> p = create_press(child, m);
      std::unique_ptr<Press>& slot = p->kind() == PressKind::Decoding ? decoding_ : prefilling_;
      if (slot) invalid(name_, "takes at most one prefilling press and one decoding press");
      slot = std::move(p);
    }
    if (prefilling_ && prefilling_->defers_to_finish())
      invalid(name_, prefilling_->name() + " decides after the whole prefill and cannot precede a decoding press");
  }
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Decoding; }
  double compression_ratio() const override { return prefilling_ ? prefilling_->compression_ratio() : 0.0; }
  bool acts_during_decoding() const override { return decoding_ != nullptr; }
  void validate(int32_t n) const override {
    if (prefilling_) prefilling_->validate(n);
  }
  void begin(int32_t n_layers) override {
    if (prefilling_) prefilling_->begin(n_layers);
    if (decoding_) decoding_->begin(n_layers);
  }
  void copy_sequence_state(const Press& from) override {
    Press::copy_sequence_state(from);
    const auto& other = same_press_as<PrefillDecodingPress>(from);
    if (prefilling_) prefilling_->copy_sequence_state(*other.prefilling_);
    if (decoding_) decoding_->copy_sequence_state(*other.decoding_);
  }
  void compress(LayerView& v, LayerDecision& out) override {
    if (prefilling_) prefilling_->compress(v, out);
    else out.unchanged = true;
  }
  void decode(LayerView& v, LayerDecision& out) override {
    if (decoding_) decoding_->decode(v, out);
    else out.unchanged = true;
  }

 private:
  std::string name_;
  std::unique_ptr<Press> prefilling_, decoding_;
};

const PressRegistration<DecodingPress> decoding_registration("DecodingPress");
const PressRegistration<DecodingPress> compression_ratio_decoding_registration("CompressionRatioDecodingPress");
const PressRegistration<PrefillDecodingPress> prefill_decoding_registration("PrefillDecodingPress");
const PressRegistration<CAMPress> cam_registration("CAMPress");

}  // namespace

}  // namespace presskv::press
