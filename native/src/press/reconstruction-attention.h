#pragma once
// What a context-reconstruction pass measures (KVzip, KVCompose; kvpress-spec §2.12, §2.14): the pass's
// tokens were run through the model on top of the context cache, so at this layer the view holds the
// context slots followed by the pass's q slots (its keys, post-RoPE) and X holds the pass's q rows.
#include <cstdint>
#include <vector>

#include "press/press.h"

namespace presskv::press {

struct PassAttentionOptions {
  int32_t begin = 0, end = 0;   // the context slots [begin, end) being scored
  int32_t n_sink = 0;           // context slots [0, min(n_sink, begin)) are in the softmax too
  bool use_max = true;          // aggregate over the pass's rows: max (KVzip, KVCompose) or mean
  bool normalise_rows = false;  // KVzip+: divide each row by ‖X_row‖₂
};

// [H, end − begin]: per query head, the pass rows' attention probabilities on each scored slot,
// aggregated over the rows. The softmax runs over the sink slots, the scored slots and the pass's own
// keys (causal) only. Memory: one row of logits per thread, never q × n.
std::vector<float> pass_attention(const LayerView& view, const PassAttentionOptions& options);

// ‖V_{kv,t} · W_O[h]‖₂ per query head for the slots [begin, end): [H, end − begin].
std::vector<float> output_l2_norms(const LayerView& view, int32_t begin, int32_t end);

}  // namespace presskv::press
