// Wrappers around a scorer (kvpress-spec §2.9, §2.16): AdaKV, KeyRerotation, ChunkKV, Chunk, Block,
// Merging, PerLayerCompression, Composed, DMS.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>
#include <numeric>

#include "press/press-registry.h"
#include "press/press-math.h"
#include "press/scorer-press.h"
#include "press/selection.h"
#include "press/wrapper-press.h"

namespace presskv::press {

WrapperPress::WrapperPress(const PressConfig& config, std::unique_ptr<Press> inner)
    : name_(config.name), inner_(std::move(inner)) {
  // A ratio given to the wrapper is the inner press's (kvpress forwards it); unset, the inner one's stands.
  if (config.has("compressionRatio")) inner_->set_compression_ratio(checked_ratio(config));
  rng_.seed((uint64_t)config.optional_number("seed").value_or(0));
}

RatioWrapperPress::RatioWrapperPress(const PressConfig& config, const ModelConfig* model)
    : WrapperPress(config, make_inner_scorer(config, model)) {}

namespace {

class AdaKVPress : public RatioWrapperPress {
 public:
  AdaKVPress(const PressConfig& c, const ModelConfig* m)
      : RatioWrapperPress(c, m), alpha_(c.number("alphaSafeguard")) {
    // Schema-checked; kept as a guard: outside it the selection would size its buffers wrongly.
    if (!(alpha_ >= 0 && alpha_ <= 1)) c.internal("alphaSafeguard must be in [0, 1]");
  }
  void compress_at(LayerView& v, LayerDecision& out, double r) override {
    inner_->score(v, out.scores);
    mask_padding(v, out.scores);
    const int32_t k = kept_count(v.n, r);
    std::vector<float> s = out.scores;
    const int32_t safeguard = (int32_t)(k * alpha_);
    for (int32_t h = 0; h < v.n_kv_heads; ++h)
      for (int32_t t : top_k(s.data() + (size_t)h * v.n, v.n, safeguard)) s[(size_t)h * v.n + t] = FLT_MAX;
    select_global(s, v.n_kv_heads, v.n, (int64_t)v.n_kv_heads * k, out);
  }

 private:
  double alpha_;
};

class KeyRerotationPress : public RatioWrapperPress {
 public:
  KeyRerotationPress(const PressConfig& c, const ModelConfig* m) : RatioWrapperPress(c, m) {}
  void compress_at(LayerView& v, LayerDecision& out, double r) override {
    inner_->score(v, out.scores);
    select_per_head(out.scores, v.n_kv_heads, v.n, kept_count(v.n, r), out);
    rerotate_to_contiguous(v, out);
  }
  bool rerotates_keys() const override { return true; }
};

class ChunkKVPress : public RatioWrapperPress {
 public:
  ChunkKVPress(const PressConfig& c, const ModelConfig* m)
      : RatioWrapperPress(c, m), chunk_((int32_t)c.integer("chunkLength", 1)) {}
  void compress_at(LayerView& v, LayerDecision& out, double r) override {
    if (v.n < chunk_) {  // no complete chunk: the inner press decides alone
      inner_->compress(v, out);
      return;
    }
    inner_->score(v, out.scores);
    const int32_t chunks = (v.n + chunk_ - 1) / chunk_;
    std::vector<float> chunk_score(chunks, 0.0f);
    for (int32_t c = 0; c < chunks; ++c) {
      const int32_t begin = c * chunk_, end = std::min(v.n, begin + chunk_);
      double sum = 0;
      for (int32_t t = begin; t < end; ++t)
        for (int32_t h = 0; h < v.n_kv_heads; ++h) sum += out.scores[(size_t)h * v.n + t];
      chunk_score[c] = (float)(sum / (end - begin));
    }
    const int32_t keep_chunks = std::max(1, kept_count(chunks, r));
    std::vector<int32_t> slots;
    for (int32_t c : top_k(chunk_score.data(), chunks, keep_chunks))
      for (int32_t t = c * chunk_; t < std::min(v.n, (c + 1) * chunk_); ++t) slots.push_back(t);
    out.unchanged = false;
    out.kept.assign(v.n_kv_heads, slots);
  }

 private:
  int32_t chunk_;
};

class ChunkPress : public RatioWrapperPress {
 public:
  ChunkPress(const PressConfig& c, const ModelConfig* m)
      : RatioWrapperPress(c, m), chunk_((int32_t)c.integer("chunkLength", 1)) {}
  void compress_at(LayerView& v, LayerDecision& out, double r) override {
    out.unchanged = false;
    out.kept.assign(v.n_kv_heads, {});
    out.scores.assign((size_t)v.n_kv_heads * v.n, 0.0f);
    std::vector<float> chunk_scores;
    for (int32_t begin = 0; begin < v.n; begin += chunk_) {
      const int32_t end = std::min(v.n, begin + chunk_), len = end - begin;
      OwnedView part = slice_view(v, begin, end);
      inner_->score(part.view, chunk_scores);
      const int32_t k = std::max(1, kept_count(len, r));
      for (int32_t h = 0; h < v.n_kv_heads; ++h) {
        std::copy(chunk_scores.begin() + (size_t)h * len, chunk_scores.begin() + (size_t)(h + 1) * len,
                  out.scores.begin() + (size_t)h * v.n + begin);
        for (int32_t t : top_k(chunk_scores.data() + (size_t)h * len, len, k)) out.kept[h].push_back(begin + t);
      }
    }
  }

 private:
  int32_t chunk_;
};

class BlockPress : public RatioWrapperPress {
 public:
  BlockPress(const PressConfig& c, const ModelConfig* m)
      : RatioWrapperPress(c, m), block_((int32_t)c.integer("blockSize", 1)) {}
  void compress_at(LayerView& v, LayerDecision& out, double r) override {
    const int32_t k = kept_count(v.n, r);
    std::vector<std::vector<int32_t>> kept(v.n_kv_heads);
    for (auto& head : kept) {
      head.resize(k);
      std::iota(head.begin(), head.end(), 0);
    }
    std::vector<float> scores;
    for (int32_t start = k; start < v.n; start += block_) {
      const int32_t end = std::min(v.n, start + block_);
      std::vector<std::vector<int32_t>> candidates = kept;
      for (auto& head : candidates)
        for (int32_t t = start; t < end; ++t) head.push_back(t);
      OwnedView sub = gather_view(v, candidates);
      inner_->score(sub.view, scores);
      const int32_t m = (int32_t)candidates[0].size();
      for (int32_t h = 0; h < v.n_kv_heads; ++h) {
        std::vector<int32_t> next;
        for (int32_t j : top_k(scores.data() + (size_t)h * m, m, k)) next.push_back(candidates[h][j]);
        std::sort(next.begin(), next.end());
        kept[h] = next;
      }
    }
    out.unchanged = false;
    out.kept = kept;
  }

 private:
  int32_t block_;
};

class MergingPress : public RatioWrapperPress {
 public:
  MergingPress(const PressConfig& c, const ModelConfig* m)
      : RatioWrapperPress(c, m),
        threshold_(c.number("similarityThreshold")),
        fraction_(c.number("mergeFraction")) {
    // Schema-checked; kept as a guard: outside it more merges would be planned than there are evicted tokens.
    if (!(fraction_ >= 0 && fraction_ <= 1)) c.internal("mergeFraction must be in [0, 1]");
  }
  void compress_at(LayerView& v, LayerDecision& out, double r) override {
    inner_->score(v, out.scores);
    select_per_head(out.scores, v.n_kv_heads, v.n, kept_count(v.n, r), out);
    const int32_t d = v.head_dim;
    for (int32_t h = 0; h < v.n_kv_heads; ++h) {
      const std::vector<int32_t>& kept = out.kept[h];
      if (kept.empty()) continue;
      std::vector<bool> is_kept(v.n, false);
      for (int32_t t : kept) is_kept[t] = true;
      struct Merge { int32_t evicted, target; double similarity; };
      std::vector<Merge> merges;
      for (int32_t e = 0; e < v.n; ++e) {
        if (is_kept[e]) continue;
        const float* ke = v.key(h, e);
        const double ne = std::max(l2_norm(ke, d), 1e-8);
        double best = -INFINITY;
        int32_t target = kept[0];
        for (int32_t t : kept) {
          const float* kt = v.key(h, t);
          double dot = 0;
          for (int32_t c = 0; c < d; ++c) dot += (double)ke[c] * kt[c];
          const double sim = dot / (ne * std::max(l2_norm(kt, d), 1e-8));
          if (sim > best) {
            best = sim;
            target = t;
          }
        }
        if (best >= threshold_) merges.push_back({e, target, best});
      }
      if (fraction_ < 1.0 && !merges.empty()) {
        std::vector<double> sims;
        for (const Merge& m : merges) sims.push_back(m.similarity);
        std::sort(sims.begin(), sims.end());
        // torch.quantile's linear interpolation at (1 − fraction).
        const double pos = (1.0 - fraction_) * (sims.size() - 1);
        const size_t lo = (size_t)std::floor(pos), hi = std::min(sims.size() - 1, lo + 1);
        const double cut = sims[lo] + (sims[hi] - sims[lo]) * (pos - lo);
        merges.erase(std::remove_if(merges.begin(), merges.end(), [&](const Merge& m) { return m.similarity < cut; }), merges.end());
      }
      std::map<int32_t, std::pair<double, std::vector<double>>> folded;  // target → (Σw, Σ w V_e)
      for (const Merge& m : merges) {
        const double ve = l2_norm(v.value(h, m.evicted), d), vt = l2_norm(v.value(h, m.target), d);
        const double w = std::max(m.similarity, 0.0) * ve / (ve + vt + 1e-6);
        if (w <= 0) continue;
        auto& acc = folded[m.target];
        if (acc.second.empty()) acc.second.assign(d, 0.0);
        acc.first += w;
        const float* val = v.value(h, m.evicted);
        for (int32_t c = 0; c < d; ++c) acc.second[c] += w * val[c];
      }
      for (auto& [target, acc] : folded) {
        float* val = v.value(h, target);
        for (int32_t c = 0; c < d; ++c) val[c] = (float)((val[c] + acc.second[c]) / (1.0 + acc.first));
        out.values_modified = true;
      }
    }
  }

 private:
  double threshold_, fraction_;
};

class PerLayerCompressionPress : public WrapperPress {
 public:
  PerLayerCompressionPress(const PressConfig& c, const ModelConfig* m) : WrapperPress(c, make_inner_scorer(c, m)) {
    ratios_ = c.list("compressionRatios");
    // The schema and validateForModel check these; the guards stay because a ratio outside [0, 1] makes a
    // negative keep count and a short list would be read past its end.
    for (double r : ratios_)
      if (!(r >= 0 && r <= 1)) c.internal("every compression ratio must be in [0, 1]");
    if (ratios_.empty() || (m && (int32_t)ratios_.size() != m->n_layers))
      c.internal("compressionRatios has " + std::to_string(ratios_.size()) + " entries, the model has " +
                 (m ? std::to_string(m->n_layers) : std::string("?")) + " layers");
  }
  double compression_ratio() const override {
    return std::accumulate(ratios_.begin(), ratios_.end(), 0.0) / ratios_.size();
  }
  void set_compression_ratio(double) override {}
  void compress(LayerView& v, LayerDecision& out) override {
    if (v.layer >= (int32_t)ratios_.size())
      invalid(name_, "compressionRatios has no entry for layer " + std::to_string(v.layer));
    const double saved = inner_->compression_ratio();
    const double r = ratios_[v.layer];
    if (r == 0.0) {
      out.unchanged = true;
      return;
    }
    if (r >= 1.0) {  // allowed here (kvpress keeps 0 tokens)
      out.unchanged = false;
      out.kept.assign(v.n_kv_heads, {});
      return;
    }
    inner_->set_compression_ratio(r);
    inner_->score(v, out.scores);
    select_per_head(out.scores, v.n_kv_heads, v.n, kept_count(v.n, r), out);
    inner_->set_compression_ratio(saved);
  }

 private:
  std::vector<double> ratios_;
};

// Runs each press on what the previous one left. A stage that keeps different counts per head must be
// the last one (the next press needs rectangular inputs).
class ComposedPress : public Press {
 public:
  ComposedPress(const PressConfig& c, const ModelConfig* m) : name_(c.name) {
    if (c.children.empty()) invalid(name_, "needs a non-empty presses list");
    for (const PressConfig& child : c.children) {
      if (child.name == "AdaKVPress" || child.name == "KVzipPress" || child.name == "CriticalAdaKVPress")
        invalid(name_, child.name + " cannot be composed (as in kvpress)");
      std::unique_ptr<Press> p = create_press(child, m);
      if (p->kind() == PressKind::Decoding || p->defers_to_finish())
        invalid(name_, p->name() + " cannot be composed: it does not decide layer by layer during the prefill");
      presses_.push_back(std::move(p));
    }
  }
  const std::string& name() const override { return name_; }
  PressKind kind() const override { return PressKind::Wrapper; }
  double compression_ratio() const override {
    double keep = 1.0;
    for (const auto& p : presses_) keep *= 1.0 - p->compression_ratio();
    return 1.0 - keep;
  }
  void validate(int32_t n) const override {
    for (const auto& p : presses_) p->validate(n);
  }
  void begin(int32_t n_layers) override {
    for (const auto& p : presses_) p->begin(n_layers);
  }
  void compress(LayerView& v, LayerDecision& out) override {
    // map[h][j] = slot of the original view held at index j of the current stage's view.
    std::vector<std::vector<int32_t>> map(v.n_kv_heads);
    for (auto& head : map) {
      head.resize(v.n);
      std::iota(head.begin(), head.end(), 0);
    }
    OwnedView current;
    LayerView* stage_view = &v;
    out.unchanged = true;
    for (size_t i = 0; i < presses_.size(); ++i) {
      LayerDecision stage;
      presses_[i]->compress(*stage_view, stage);
      out.channel_ratio = std::max(out.channel_ratio, stage.channel_ratio);
      if (stage.unchanged && !stage.keys_modified && !stage.values_modified) continue;
      if (stage.unchanged) stage.keep_all(stage_view->n_kv_heads, stage_view->n);
      out.unchanged = false;
      out.keys_modified |= stage.keys_modified;
      out.values_modified |= stage.values_modified;
      out.positions_modified |= stage.positions_modified;
      // Carry rewritten data back into the original view's slots.
      if (stage_view != &v) write_back(*stage_view, map, v);
      const size_t count = stage.kept[0].size();
      bool rectangular = true;
      for (const auto& head : stage.kept) rectangular &= head.size() == count;
      std::vector<std::vector<int32_t>> next(v.n_kv_heads);
      for (int32_t h = 0; h < v.n_kv_heads; ++h)
        for (int32_t j : stage.kept[h]) next[h].push_back(map[h][j]);
      map = next;
      if (i + 1 < presses_.size()) {
        if (!rectangular) invalid(name_, presses_[i]->name() + " keeps different counts per head; it must be the last press");
        current = gather_view(v, map);
        stage_view = &current.view;
      }
    }
    if (out.unchanged) return;
    out.kept = map;
    for (auto& head : out.kept) std::sort(head.begin(), head.end());
  }

 private:
  static void write_back(const LayerView& from, const std::vector<std::vector<int32_t>>& map, LayerView& to) {
    for (int32_t h = 0; h < to.n_kv_heads; ++h)
      for (int32_t j = 0; j < (int32_t)map[h].size(); ++j) {
        const int32_t slot = map[h][j];
        std::copy(from.key(h, j), from.key(h, j) + to.head_dim, to.key(h, slot));
        std::copy(from.value(h, j), from.value(h, j) + to.head_dim, to.value(h, slot));
        to.position(h, slot) = from.position(h, j);
      }
  }

  std::string name_;
  std::vector<std::unique_ptr<Press>> presses_;
};

// Threshold eviction as tokens leave a sliding window of the most recent W (kvpress-spec §2.16).
// Per-layer state: the scores (per kv-head) of the tokens still inside the window, by position.
class DMSPress : public WrapperPress {
 public:
  DMSPress(const PressConfig& c, const ModelConfig* m)
      : WrapperPress(c, make_inner_scorer(c, m)),
        window_((int32_t)c.integer("slidingWindowSize", 0)),
        decoding_(c.flag("decoding")),
        threshold_(c.number("threshold")) {}
  double compression_ratio() const override { return achieved_; }
  void set_compression_ratio(double) override {}
  bool acts_during_decoding() const override { return decoding_; }
  void begin(int32_t n_layers) override {
    WrapperPress::begin(n_layers);
    buffers_.assign(n_layers, {});
  }
  void copy_sequence_state(const Press& from) override {
    WrapperPress::copy_sequence_state(from);
    const auto& other = same_press_as<DMSPress>(from);
    buffers_ = other.buffers_;
    achieved_ = other.achieved_;
  }
  void compress(LayerView& v, LayerDecision& out) override { step(v, out); }
  void decode(LayerView& v, LayerDecision& out) override {
    if (!decoding_) {
      out.unchanged = true;
      return;
    }
    step(v, out);
  }

 private:
  struct Buffer {
    std::vector<int32_t> positions;     // oldest first
    std::vector<std::vector<float>> scores;  // per kv-head, aligned with positions
  };

  void step(LayerView& v, LayerDecision& out) {
    if (v.layer >= (int32_t)buffers_.size()) buffers_.resize(v.layer + 1);
    Buffer& buf = buffers_[v.layer];
    if (buf.scores.size() != (size_t)v.n_kv_heads) buf.scores.assign(v.n_kv_heads, {});
    // Score the new tokens only: the last q slots of every head.
    OwnedView fresh = slice_view(v, v.n - v.q, v.n);
    std::vector<float> s;
    inner_->score(fresh.view, s);
    out.scores.assign((size_t)v.n_kv_heads * v.n, INFINITY);
    for (int32_t r = 0; r < v.q; ++r) {
      buf.positions.push_back(v.position(0, v.n - v.q + r));
      for (int32_t h = 0; h < v.n_kv_heads; ++h) {
        buf.scores[h].push_back(s[(size_t)h * v.q + r]);
        out.scores[(size_t)h * v.n + v.n - v.q + r] = s[(size_t)h * v.q + r];
      }
    }
    const int32_t leaving = std::max<int32_t>(0, (int32_t)buf.positions.size() - window_);
    out.unchanged = true;
    if (leaving > 0) {
      // Evict (per head) the leaving tokens scored below the threshold; everything else stays.
      std::map<int32_t, int32_t> leaving_index;  // position → index in the buffer
      for (int32_t i = 0; i < leaving; ++i) leaving_index[buf.positions[i]] = i;
      out.kept.assign(v.n_kv_heads, {});
      int64_t evicted = 0;
      for (int32_t h = 0; h < v.n_kv_heads; ++h)
        for (int32_t t = 0; t < v.n; ++t) {
          auto it = leaving_index.find(v.position(h, t));
          if (it != leaving_index.end() && buf.scores[h][it->second] < threshold_) {
            ++evicted;
            continue;
          }
          out.kept[h].push_back(t);
        }
      out.unchanged = evicted == 0;
      buf.positions.erase(buf.positions.begin(), buf.positions.begin() + leaving);
      for (auto& head : buf.scores) head.erase(head.begin(), head.begin() + leaving);
      achieved_ = (double)evicted / ((double)v.n_kv_heads * v.n);
    }
  }

  int32_t window_;
  bool decoding_;
  double threshold_ = 0;
  double achieved_ = 0;
  std::vector<Buffer> buffers_;
};

const PressRegistration<AdaKVPress> ada_kv_registration("AdaKVPress");
const PressRegistration<KeyRerotationPress> key_rerotation_registration("KeyRerotationPress");
const PressRegistration<ChunkKVPress> chunk_kv_registration("ChunkKVPress");
const PressRegistration<ChunkPress> chunk_registration("ChunkPress");
const PressRegistration<BlockPress> block_registration("BlockPress");
const PressRegistration<MergingPress> merging_registration("MergingPress");
const PressRegistration<PerLayerCompressionPress> per_layer_compression_registration("PerLayerCompressionPress");
const PressRegistration<ComposedPress> composed_registration("ComposedPress");
const PressRegistration<DMSPress> dms_registration("DMSPress");

}  // namespace

}  // namespace presskv::press
