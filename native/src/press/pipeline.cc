#include "press/pipeline.h"

#include <algorithm>

#include "core/errors.h"

namespace presskv::press {

PressPipeline::PressPipeline(std::unique_ptr<Press> press, const ModelConfig& config)
    : press_(std::move(press)), config_(config) {}

PressPipeline::PressPipeline(const PressConfig& press, const ModelConfig& config)
    : press_(create_press(press, &config)), press_config_(press), config_(config) {}

std::shared_ptr<PressPipeline> PressPipeline::fork() const {
  if (!press_config_) throw EngineError(ErrorCode::Internal, "PressPipeline::fork: the pipeline was not made from a press config");
  auto copy = std::make_shared<PressPipeline>(*press_config_, config_);
  copy->press_->copy_sequence_state(*press_);
  return copy;
}

void PressPipeline::validate(int32_t n_context) const { press_->validate(n_context); }

void PressPipeline::begin_prefill(int32_t n_context) {
  press_->validate(n_context);
  press_->begin(config_.n_layers);
  stats_.assign(config_.n_layers, {});
  deferred_x_.assign(press_->defers_to_finish() ? config_.n_layers : 0, {});
  deferred_q_.assign(deferred_x_.size(), 0);
  deferred_first_.assign(deferred_x_.size(), 0);
  passes_.clear();
}

const std::vector<ReconstructionPass>& PressPipeline::plan_reconstruction(const std::vector<int32_t>& context) {
  passes_ = press_->reconstruction_passes(context);
  return passes_;
}

void PressPipeline::after_pass_layer(int32_t pass, int32_t layer, const float* x, int32_t q, int32_t first_position,
                                     LayerCacheAccess& cache, const ModelAccess& model) {
  if (pass < 0 || pass >= (int32_t)passes_.size())
    throw EngineError(ErrorCode::Internal, "press pipeline: reconstruction pass " + std::to_string(pass) + " was not planned");
  std::vector<float> keys, values;
  std::vector<int32_t> positions;
  const LayerView view = make_view(layer, x, q, first_position, model, nullptr, keys, values, positions, cache);
  press_->score_pass(view, pass);
}

LayerView PressPipeline::make_view(int32_t layer, const float* x, int32_t q, int32_t first_position, const ModelAccess& model,
                                   const float* attentions, std::vector<float>& keys, std::vector<float>& values,
                                   std::vector<int32_t>& positions, LayerCacheAccess& cache) const {
  cache.gather(layer, keys, values, positions);
  LayerView v;
  v.layer = layer;
  v.n_layers = config_.n_layers;
  v.n = 0;
  for (int32_t h = 0; h < config_.n_kv_heads; ++h) v.n = std::max(v.n, cache.length(layer, h));
  v.q = q;
  v.n_heads = config_.n_heads;
  v.n_kv_heads = config_.n_kv_heads;
  v.head_dim = config_.head_dim;
  v.hidden_size = config_.hidden;
  v.hidden = x;
  v.keys = keys.data();
  v.values = values.data();
  v.positions = positions.data();
  v.attentions = attentions;
  v.first_position = first_position;
  v.model = &model;
  if (q > v.n) throw EngineError(ErrorCode::Internal, "press pipeline: more new tokens than cached slots");
  return v;
}

void PressPipeline::apply(int32_t layer, LayerDecision& decision, const LayerView& view, LayerCacheAccess& cache) {
  LayerStats& s = stats_.size() > (size_t)layer ? stats_[layer] : (stats_.resize(layer + 1), stats_[layer]);
  s.layer = layer;
  if (record_scores_) s.scores = decision.scores;
  s.tied = decision.tied_kept;
  s.before.clear();
  for (int32_t h = 0; h < view.n_kv_heads; ++h) s.before.push_back(cache.length(layer, h));
  if (decision.unchanged && !decision.keys_modified && !decision.values_modified) {
    s.after = s.before;
    return;
  }
  if (decision.unchanged) decision.keep_all(view.n_kv_heads, view.n);
  if ((int32_t)decision.kept.size() != view.n_kv_heads)
    throw EngineError(ErrorCode::Internal, press_->name() + " returned a decision for the wrong number of heads");
  for (int32_t h = 0; h < view.n_kv_heads; ++h) {
    auto& head = decision.kept[h];
    std::sort(head.begin(), head.end());
    head.erase(std::unique(head.begin(), head.end()), head.end());
    for (int32_t t : head)
      if (t < 0 || t >= view.n) throw EngineError(ErrorCode::Internal, press_->name() + " kept a slot out of range");
    // Padding of a shorter head is never kept (selection scores it −inf; a wrapper may still list it).
    const int32_t padding = view.n - cache.length(layer, h);
    head.erase(std::remove_if(head.begin(), head.end(), [&](int32_t t) { return t < padding; }), head.end());
  }
  cache.retain(layer, decision.kept, decision.keys_modified ? view.keys : nullptr,
               decision.values_modified ? view.values : nullptr, decision.positions_modified ? view.positions : nullptr);
  s.after.clear();
  for (const auto& head : decision.kept) s.after.push_back((int32_t)head.size());
}

void PressPipeline::after_layer(int32_t layer, const float* x, int32_t q, int32_t first_position, LayerCacheAccess& cache,
                                const ModelAccess& model, const float* attentions) {
  std::vector<float> keys, values;
  std::vector<int32_t> positions;
  LayerView view = make_view(layer, x, q, first_position, model, attentions, keys, values, positions, cache);
  LayerDecision decision;
  press_->compress(view, decision);
  if (press_->defers_to_finish()) {
    deferred_x_[layer].assign(x, x + (size_t)q * config_.hidden);
    deferred_q_[layer] = q;
    deferred_first_[layer] = first_position;
    return;
  }
  apply(layer, decision, view, cache);
}

void PressPipeline::finish_prefill(LayerCacheAccess& cache, const ModelAccess& model) {
  if (!press_->defers_to_finish()) return;
  const int32_t L = config_.n_layers;
  std::vector<std::vector<float>> keys(L), values(L);
  std::vector<std::vector<int32_t>> positions(L);
  std::vector<LayerView> views;
  for (int32_t l = 0; l < L; ++l)
    views.push_back(make_view(l, deferred_x_[l].data(), deferred_q_[l], deferred_first_[l], model, nullptr, keys[l],
                              values[l], positions[l], cache));
  std::vector<LayerDecision> decisions(L);
  press_->finish(views, decisions);
  for (int32_t l = 0; l < L; ++l) apply(l, decisions[l], views[l], cache);
  deferred_x_.clear();
}

bool PressPipeline::acts_during_decoding() const { return press_->acts_during_decoding(); }

void PressPipeline::after_decode_layer(int32_t layer, const float* x, int32_t q, int32_t first_position, LayerCacheAccess& cache,
                                       const ModelAccess& model) {
  if (!acts_during_decoding()) return;
  std::vector<float> keys, values;
  std::vector<int32_t> positions;
  LayerView view = make_view(layer, x, q, first_position, model, nullptr, keys, values, positions, cache);
  view.prefilling = false;
  LayerDecision decision;
  press_->decode(view, decision);
  apply(layer, decision, view, cache);
}

double PressPipeline::achieved_ratio() const {
  int64_t before = 0, after = 0;
  for (const auto& s : stats_) {
    for (int32_t b : s.before) before += b;
    for (int32_t a : s.after) after += a;
  }
  return before ? 1.0 - (double)after / before : 0.0;
}

int64_t PressPipeline::tied_kept() const {
  int64_t tied = 0;
  for (const auto& s : stats_) tied += s.tied;
  return tied;
}

}  // namespace presskv::press
