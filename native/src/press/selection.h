#pragma once
// Selection policies: turn scores (higher = keep) into kept slots per kv-head. Kept slots are always
// returned in ascending slot order; among equal scores the lower slot index wins (deterministic
// stand-in for torch.topk's unspecified tie order).
//
// Ties: the top-k policies (per head, global, explicit counts) count in LayerDecision::tied_kept the kept
// slots whose score equals the threshold, the score of the best dropped slot (of the head, or of the layer
// for the global policy): those slots were chosen by the tie rule alone, not by their score. NaN equals
// NaN here. select_threshold has no tie rule (it keeps every slot >= the threshold): 0.
#include <cstdint>
#include <vector>

#include "press/press.h"

namespace presskv::press {

// Indices of the k largest of scores[0..n), ascending. tied (optional): += the kept slots that equal the
// best dropped slot's score (chosen by the tie rule).
std::vector<int32_t> top_k(const float* scores, int32_t n, int32_t k, int64_t* tied = nullptr);
// Same k for every head (ScorerPress).
void select_per_head(const std::vector<float>& scores, int32_t n_kv_heads, int32_t n, int32_t k, LayerDecision& out);
// One budget for the whole layer, split across heads by a global top-k over the flattened [Hk·n]
// scores (AdaKV): heads keep different counts, the layer total is `total`.
void select_global(const std::vector<float>& scores, int32_t n_kv_heads, int32_t n, int64_t total, LayerDecision& out);
// Per-head counts given explicitly (LUKV, KVzip budgets).
void select_counts(const std::vector<float>& scores, int32_t n_kv_heads, int32_t n, const std::vector<int32_t>& counts,
                   LayerDecision& out);
// Keep slots whose score >= threshold, plus slots flagged in `protect`.
void select_threshold(const std::vector<float>& scores, int32_t n_kv_heads, int32_t n, float threshold,
                      const std::vector<bool>& protect, LayerDecision& out);
// PyramidKV's kept count for `layer` (kvpress-spec §2.3).
int32_t pyramid_kept_count(int32_t n, int32_t window, double beta, double ratio, int32_t n_layers, int32_t layer);

}  // namespace presskv::press
