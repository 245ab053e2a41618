#pragma once
// Attention of a copy of the context over the context: what KVzip's reconstruction passes and
// KVCompose's repeated-prompt pass measure. presskv runs it in one pass per layer: the copy's queries
// and keys are computed from the layer's own attention inputs X of the chunk, placed after the
// context (positions n, n+1, ...) as the repeated text would be; the repeat instruction prompt is not
// included (the native side never tokenises text).
#include <cstdint>
#include <vector>

#include "press/press.h"

namespace presskv::press {

struct CopyAttentionOptions {
  int32_t begin = 0, end = 0;   // the chunk of context slots [begin, end) being reconstructed
  int32_t n_sink = 0;           // context slots [0, min(n_sink, begin)) are visible too
  bool use_max = true;          // aggregate over the copy's query rows: max (KVzip, KVCompose) or mean
  bool normalise_rows = false;  // KVzip+: divide each row by ‖X_row‖₂
};

// [H, end − begin]: per query head, the aggregated attention probability on each chunk slot. The
// softmax runs over the visible context slots plus the copy's own keys (causal within the copy).
std::vector<float> copy_attention(const LayerView& v, const CopyAttentionOptions& options);

// ‖V_{kv,t} · W_O[h]‖₂ per query head: [H, n].
std::vector<float> output_l2_norms(const LayerView& v);

// KVzip / FastKVzip budgets: keep the top (1 − r) of all (layer, head, slot) scores (or per layer when
// layerwise), each head keeping its own slots.
void allocate_budgets(const std::vector<LayerView>& views, const std::vector<std::vector<float>>& scores, double ratio,
                      bool layerwise, std::vector<LayerDecision>& out);

}  // namespace presskv::press
