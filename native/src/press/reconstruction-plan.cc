#include "press/reconstruction-plan.h"

#include "core/errors.h"

namespace presskv::press {

std::vector<ReconstructionPass> ReconstructionPlan::adopt(std::vector<ReconstructionPass> passes, int32_t n_layers) {
  chunks_.clear();
  for (const ReconstructionPass& p : passes) chunks_.emplace_back(p.begin, p.end);
  layers_scored_.assign(passes.size(), 0);
  n_layers_ = n_layers;
  planned_ = true;
  return passes;
}

PassAttentionOptions ReconstructionPlan::score_layer(int32_t pass) {
  if (pass < 0 || pass >= (int32_t)chunks_.size())
    throw EngineError(ErrorCode::Internal, "reconstruction pass " + std::to_string(pass) + " was not planned");
  ++layers_scored_[pass];
  PassAttentionOptions o;
  o.begin = chunks_[pass].first;
  o.end = chunks_[pass].second;
  return o;
}

void ReconstructionPlan::require_complete(const std::string& press) const {
  if (!planned_)
    throw EngineError(ErrorCode::Internal, press + ": the reconstruction passes were never planned (the engine must run "
                                                   "them after the prefill, press/context-prefill.h)");
  for (size_t p = 0; p < layers_scored_.size(); ++p)
    if (layers_scored_[p] != n_layers_)
      throw EngineError(ErrorCode::Internal, press + ": reconstruction pass " + std::to_string(p) + " scored " +
                                                 std::to_string(layers_scored_[p]) + " of " + std::to_string(n_layers_) +
                                                 " layers (the engine must run every pass before the decision)");
}

}  // namespace presskv::press
